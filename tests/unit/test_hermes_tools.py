"""The native (Hermes / Qwen ``<tool_call>``) tool format: which chat templates know it, what
they render, the grammar of the model's turn (compiled and run by llama.cpp's own grammar
sampler), reading the turn back, and the plan that picks the format."""

from __future__ import annotations

import ctypes
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from atrium.engines.base import (
    ChatMessage,
    GenerationRequest,
    MessageToolCall,
    SamplingParams,
    ToolDefinition,
)
from atrium.engines.llamacpp.template import CHATML_TEMPLATE, ChatTemplate, tool_dicts
from atrium.errors import EngineError
from atrium.structured.hermes import hermes_grammar, parse_hermes_turn
from atrium.structured.plan import TEXT_PLAN, OutputRequest, ToolUse
from tests.unit.test_schema_gbnf import Grammar, compiles

QWEN_TEMPLATE = (
    Path(__file__).parents[1] / "fixtures" / "chat_templates" / "qwen2.5-7b-instruct.jinja"
).read_text()
# SmolLM2-135M-Instruct's own template (docs/research/structured-outputs/FINDINGS.md).
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WEATHER = ToolDefinition(
    "get_weather",
    "Current weather",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 20},
            "unit": {"enum": ["c", "f"]},
        },
        "required": ["city"],
        "additionalProperties": False,
    },
)
TIME = ToolDefinition(
    "get_time",
    None,
    {
        "type": "object",
        "properties": {"zone": {"type": "string"}},
        "required": ["zone"],
        "additionalProperties": False,
    },
)
PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
    "required": ["name", "age"],
    "additionalProperties": False,
}
CONVERSATION = (
    ChatMessage(role="system", content="You are terse."),
    ChatMessage(role="user", content="What is the weather in Paris?"),
    ChatMessage(
        role="assistant",
        content="",
        tool_calls=(MessageToolCall("call_abc", "get_weather", '{"city": "Paris"}'),),
    ),
    ChatMessage(role="tool", content="22C", name="get_weather", tool_call_id="call_abc"),
)
PARIS = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
CET = '<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>'


# -- which templates know tools -----------------------------------------------------------------


def test_qwen_templates_know_hermes_tools() -> None:
    assert ChatTemplate(QWEN_TEMPLATE).tool_format == "hermes"


@pytest.mark.parametrize(
    "source",
    [
        SMOLLM2_TEMPLATE,
        CHATML_TEMPLATE,
        None,  # no template: the ChatML fallback
        # mentions <tool_call> but renders neither the tools nor the calls
        "{# models answer with <tool_call> #}" + SMOLLM2_TEMPLATE,
        # renders tools and calls, but as XML inside <tool_call> (Qwen3-Coder style)
        "{% for t in tools %}{{ t.function.description }}{% endfor %}"
        "{% for m in messages %}{{ m.content }}{% for c in m.tool_calls %}"
        "<tool_call><function={{ c.function.name }}></tool_call>{% endfor %}{% endfor %}",
        # fails on a tool message
        "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no') }}"
        "{% endif %}<tool_call>{% endfor %}",
    ],
)
def test_other_templates_get_the_fallback_format(source: str | None) -> None:
    assert ChatTemplate(source).tool_format == "envelope"


def test_a_conversation_with_tools_renders_in_qwens_own_format() -> None:
    prompt = ChatTemplate(QWEN_TEMPLATE).render(CONVERSATION, tools=(WEATHER,))
    [tool_line] = tool_dicts((WEATHER,))
    assert prompt == (
        "<|im_start|>system\nYou are terse.\n\n# Tools\n\nYou may call one or more functions "
        "to assist with the user query.\n\nYou are provided with function signatures within "
        "<tools></tools> XML tags:\n<tools>\n"
        f"{json.dumps(tool_line)}\n</tools>\n\nFor each function call, return a json object "
        "with function name and arguments within <tool_call></tool_call> XML tags:\n"
        '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n'
        "</tool_call><|im_end|>\n"
        "<|im_start|>user\nWhat is the weather in Paris?<|im_end|>\n"
        f"<|im_start|>assistant\n{PARIS}<|im_end|>\n"
        "<|im_start|>user\n<tool_response>\n22C\n</tool_response><|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert json.loads(json.dumps(tool_line)) == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather",
            "parameters": WEATHER.parameters,
        },
    }


def test_without_tools_the_template_shows_none() -> None:
    prompt = ChatTemplate(QWEN_TEMPLATE).render(CONVERSATION[1:2])
    assert "<tools>" not in prompt
    assert prompt.startswith("<|im_start|>system\nYou are Qwen")


# -- the grammar of the model's turn -----------------------------------------------------------


def llama_accepts(vocab: Any, grammar: str, text: str) -> bool:
    """Whether llama.cpp's grammar sampler lets ``text`` (tokenized by the default model's
    vocabulary) through, then the end of generation."""
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    assert sampler
    data = text.encode()
    tokens = (llama_cpp.llama_token * (len(data) + 8))()
    count = llama_cpp.llama_tokenize(vocab, data, len(data), tokens, len(tokens), False, True)
    assert count >= 0
    try:
        for token in [*tokens[:count], llama_cpp.llama_vocab_eos(vocab)]:
            candidate = (llama_cpp.llama_token_data * 1)()
            candidate[0].id, candidate[0].logit, candidate[0].p = token, 0.0, 0.0
            array = llama_cpp.llama_token_data_array(candidate, 1, -1, False)
            llama_cpp.llama_sampler_apply(sampler, ctypes.byref(array))
            if math.isinf(candidate[0].logit):
                return False
            if token != llama_cpp.llama_vocab_eos(vocab):
                llama_cpp.llama_sampler_accept(sampler, token)
        return True
    finally:
        llama_cpp.llama_sampler_free(sampler)


CASES: list[tuple[str, dict[str, Any], list[str], list[str]]] = [
    (
        "one call",
        {"parallel": False, "allow_answer": False},
        [PARIS, CET, PARIS.replace("\n{", "\n{ ").replace("}}\n", "} }\n")],
        [
            f"{PARIS}\n{CET}",
            "It is sunny.",
            PARIS.replace("get_weather", "get_news"),
            PARIS.replace('"city"', '"town"'),
            PARIS + " ",
            PARIS.replace("\n</tool_call>", "</tool_call>\n"),
            PARIS.replace("Paris", "P" * 21),
        ],
    ),
    (
        "parallel calls",
        {"parallel": True, "allow_answer": False},
        [PARIS, f"{PARIS}\n{CET}\n{PARIS}"],
        [f"{PARIS}{CET}", f"{PARIS}\n", "It is sunny."],
    ),
    (
        "calls or a text answer",
        {"parallel": True, "allow_answer": True},
        [PARIS, f"{PARIS}\n{CET}", "It is sunny.", "22C in Paris.\n<b>warm</b>"],
        ["<b>warm</b>", " It is sunny.", "\nIt is sunny.", "", f"{PARIS}\nand text"],
    ),
    (
        "calls or a JSON answer",
        {"parallel": False, "allow_answer": True, "answer_schema": PERSON},
        [PARIS, '{"name": "Ann", "age": 3}'],
        ["It is sunny.", '{"name": "Ann"}', f"{PARIS}\n{CET}"],
    ),
]


@pytest.mark.parametrize(("case", "options", "good", "bad"), CASES, ids=[c[0] for c in CASES])
def test_the_grammar_admits_exactly_the_turns_of_the_format(
    vocab: Any, case: str, options: dict[str, Any], good: list[str], bad: list[str]
) -> None:
    grammar = hermes_grammar((WEATHER, TIME), **options)
    assert compiles(vocab, grammar), grammar
    recognizer = Grammar(grammar)
    for text in good:
        assert recognizer.accepts(text), text
        assert llama_accepts(vocab, grammar, text), text
    for text in bad:
        assert not recognizer.accepts(text), text
        assert not llama_accepts(vocab, grammar, text), text


def test_a_named_function_grammar_calls_only_it(vocab: Any) -> None:
    grammar = hermes_grammar((TIME,), parallel=False, allow_answer=False)
    assert llama_accepts(vocab, grammar, CET)
    assert not llama_accepts(vocab, grammar, PARIS)


def test_parameters_with_refs_and_names_of_json_rules_combine(vocab: Any) -> None:
    place = ToolDefinition(
        "string",  # the name of a JSON primitive rule of the grammar
        None,
        {
            "type": "object",
            "properties": {"where": {"$ref": "#/$defs/Place"}},
            "required": ["where"],
            "additionalProperties": False,
            "$defs": {
                "Place": {
                    "type": "object",
                    "properties": {"city": {"type": "string", "maxLength": 5}},
                    "required": ["city"],
                    "additionalProperties": False,
                }
            },
        },
    )
    grammar = hermes_grammar((place,), parallel=False, allow_answer=True, answer_schema=PERSON)
    assert compiles(vocab, grammar)
    call = '<tool_call>\n{"name": "string", "arguments": {"where": {"city": "Oslo"}}}\n</tool_call>'
    assert llama_accepts(vocab, grammar, call)
    assert not llama_accepts(vocab, grammar, call.replace("Oslo", "Berlin"))


# -- reading the turn back -----------------------------------------------------------------------


def test_blocks_are_parsed_into_calls() -> None:
    turn = parse_hermes_turn(f"{PARIS}\n{CET}\n")
    assert [(c.name, c.arguments) for c in turn.calls] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"zone": "CET"}),
    ]
    compact = '<tool_call>{"name":"get_time","arguments":{"zone":"CET"}}</tool_call>'
    assert parse_hermes_turn(compact).calls[0].arguments == {"zone": "CET"}


def test_text_that_is_no_call_is_the_answer() -> None:
    for text in ("It is sunny.", '{"name": "Ann", "age": 3}', "a <tool_call> later"):
        turn = parse_hermes_turn(text)
        assert turn.calls == ()
        assert turn.content == text


@pytest.mark.parametrize(
    "text",
    [
        "<tool_call>\n{}\n</tool_call>",
        "<tool_call>\nnot json\n</tool_call>",
        "<tool_call>\n" + '{"name": "a", "arguments": {}}',
        PARIS + "\nand then some text",
        PARIS + "\nbetween\n" + CET,
        '<tool_call>\n{"arguments": {}}\n</tool_call>',
    ],
)
def test_malformed_blocks_are_errors(text: str) -> None:
    with pytest.raises(ValueError):
        parse_hermes_turn(text)


# -- the plan ------------------------------------------------------------------------------------


def chat_request(messages: tuple[ChatMessage, ...] = CONVERSATION) -> GenerationRequest:
    sampling = SamplingParams(stop=("\n\n",))
    return GenerationRequest("r", "m", sampling, messages=messages)


def test_the_hermes_plan_keeps_the_messages_and_lists_the_tools() -> None:
    plan = OutputRequest(TEXT_PLAN, ToolUse((WEATHER, TIME), forced="get_time")).plan("hermes")
    request = plan.apply(chat_request())
    assert request.messages == CONVERSATION
    assert request.tools == (WEATHER, TIME)
    assert request.sampling.grammar == hermes_grammar((TIME,), parallel=False, allow_answer=False)
    assert request.sampling.stop == ()
    assert plan.prompt_section is None
    turn = plan.finish(CET, "stop")
    assert turn.finish_reason == "tool_calls"
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [("get_time", '{"zone": "CET"}')]
    assert re.fullmatch(r"call_[A-Za-z0-9]{24}", turn.tool_calls[0].id)


def test_the_envelope_plan_rewrites_the_same_conversation_as_text() -> None:
    plan = OutputRequest(TEXT_PLAN, ToolUse((WEATHER,))).plan("envelope")
    request = plan.apply(chat_request())
    assert request.messages is not None
    assert request.tools == ()
    assert [m.role for m in request.messages] == ["system", "user", "assistant", "user"]
    assert request.messages[0].content.startswith("You are terse.\n\n# Tools")
    assert request.messages[2].tool_calls == ()
    assert request.messages[3].content == (
        '{"tool_response": {"tool_call_id": "call_abc", "name": "get_weather", "content": "22C"}}'
    )


def test_tool_choice_none_keeps_the_history_but_shows_no_tools() -> None:
    plan = OutputRequest(TEXT_PLAN, None).plan("hermes")
    request = plan.apply(chat_request())
    assert request.messages == CONVERSATION
    assert request.tools == ()
    assert request.sampling.grammar is None
    assert request.sampling.stop == ("\n\n",)
    assert plan.finish("<tool_call>", "stop").content == "<tool_call>"


def test_an_answer_where_a_call_is_required_is_a_bug() -> None:
    plan = OutputRequest(TEXT_PLAN, ToolUse((WEATHER,), required=True)).plan("hermes")
    with pytest.raises(EngineError):
        plan.finish("It is sunny.", "stop")
    answer = OutputRequest(TEXT_PLAN, ToolUse((WEATHER,))).plan("hermes").finish("Hi.", "stop")
    assert (answer.content, answer.tool_calls, answer.finish_reason) == ("Hi.", (), "stop")
