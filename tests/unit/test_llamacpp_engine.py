"""The embedded llama.cpp engine, on the real default model (SmolLM2-135M-Instruct)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from atrium.engines.base import (
    ChatMessage,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    PromptProcessed,
    SamplingParams,
    TokenDelta,
)
from atrium.engines.llamacpp import LlamaCppEngine
from atrium.engines.llamacpp.detokenize import IncrementalDetokenizer
from atrium.engines.llamacpp.scheduler import GenerationAbortedError
from atrium.errors import (
    ContextLengthExceededError,
    EngineError,
    EngineUnavailableError,
    ModelNotFoundError,
)
from atrium.models.registry import ModelSource, resolve_model

MODEL = "smollm2-135m-instruct"
STORY = (ChatMessage(role="user", content="Write a long story about a dragon and a knight."),)


@pytest.fixture(scope="module")
def source() -> ModelSource:
    return resolve_model(MODEL)


@pytest.fixture(scope="module")
def engine(source: ModelSource) -> Iterator[LlamaCppEngine]:
    engine = LlamaCppEngine(source, context_size=2048)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.stop())


@pytest.fixture(scope="module")
def small_engine(source: ModelSource) -> Iterator[LlamaCppEngine]:
    """A 256-token context and 32-token batches: prompts are prefilled in chunks."""
    engine = LlamaCppEngine(source, context_size=256, batch_size=32)
    asyncio.run(engine.start())
    yield engine
    asyncio.run(engine.stop())


def chat(
    messages: tuple[ChatMessage, ...] = STORY, *, request_id: str = "req", **sampling: object
) -> GenerationRequest:
    params = {"max_tokens": 16, "temperature": 0.0, **sampling}
    return GenerationRequest(
        request_id=request_id,
        model=MODEL,
        sampling=SamplingParams(**params),  # type: ignore[arg-type]
        messages=messages,
    )


async def collect(events: AsyncIterator[GenerationEvent]) -> list[GenerationEvent]:
    return [event async for event in events]


def text_of(events: list[GenerationEvent]) -> str:
    return "".join(event.text for event in events if isinstance(event, TokenDelta))


def ids_of(events: list[GenerationEvent]) -> list[int]:
    return [i for event in events if isinstance(event, TokenDelta) for i in event.token_ids]


async def test_health_and_models(engine: LlamaCppEngine, source: ModelSource) -> None:
    assert engine.health().ready
    [info] = engine.models()
    assert info.id == MODEL
    assert info.context_size == 2048
    fresh = LlamaCppEngine(source)
    assert not fresh.health().ready
    with pytest.raises(EngineUnavailableError):
        await anext(fresh.generate(chat()))
    await fresh.stop()  # stopping an engine that never started is fine


async def test_greedy_generation_is_deterministic(engine: LlamaCppEngine) -> None:
    first = await collect(engine.generate(chat()))
    second = await collect(engine.generate(chat()))
    assert text_of(first).strip()
    assert text_of(first) == text_of(second)
    assert ids_of(first) == ids_of(second)


async def test_events_come_in_order_with_consistent_counts(engine: LlamaCppEngine) -> None:
    events = await collect(engine.generate(chat(max_tokens=24)))
    assert isinstance(events[0], PromptProcessed)
    assert isinstance(events[-1], GenerationFinished)
    assert all(isinstance(event, TokenDelta) for event in events[1:-1])
    finished = events[-1]
    assert finished.completion_tokens == len(ids_of(events))
    assert finished.prompt_tokens == events[0].prompt_tokens
    rendered = engine.render_chat(STORY)
    assert finished.prompt_tokens == await engine.count_tokens(MODEL, rendered)
    assert "<|im_end|>" not in text_of(events)


async def test_max_tokens_finishes_with_length(engine: LlamaCppEngine) -> None:
    events = await collect(engine.generate(chat(max_tokens=5)))
    finished = events[-1]
    assert isinstance(finished, GenerationFinished)
    assert finished.finish_reason == "length"
    assert finished.completion_tokens == 5
    assert len(ids_of(events)) == 5


async def test_end_of_generation_finishes_with_stop(engine: LlamaCppEngine) -> None:
    question = (ChatMessage(role="user", content="Say only the word yes."),)
    events = await collect(engine.generate(chat(question, max_tokens=64)))
    finished = events[-1]
    assert isinstance(finished, GenerationFinished)
    assert finished.finish_reason == "stop"
    assert finished.completion_tokens < 64
    assert "<|im_end|>" not in text_of(events)


async def test_raw_prompt_completion(engine: LlamaCppEngine) -> None:
    request = GenerationRequest(
        request_id="raw",
        model=MODEL,
        prompt="The capital of France is",
        sampling=SamplingParams(max_tokens=4, temperature=0.0),
    )
    events = await collect(engine.generate(request))
    assert isinstance(events[0], PromptProcessed)
    assert events[0].prompt_tokens == await engine.count_tokens(MODEL, "The capital of France is")
    assert "Paris" in text_of(events)


async def test_unknown_model_is_rejected_before_any_event(engine: LlamaCppEngine) -> None:
    request = GenerationRequest(
        request_id="x", model="gpt-4", prompt="hi", sampling=SamplingParams(max_tokens=2)
    )
    with pytest.raises(ModelNotFoundError):
        await anext(engine.generate(request))
    with pytest.raises(ModelNotFoundError):
        await engine.count_tokens("gpt-4", "hi")


async def test_prompt_over_the_context_is_rejected_before_any_event(
    small_engine: LlamaCppEngine,
) -> None:
    long = (ChatMessage(role="user", content="dragon " * 300),)
    with pytest.raises(ContextLengthExceededError) as caught:
        await anext(small_engine.generate(chat(long, max_tokens=None)))
    error = caught.value
    assert error.context_size == 256
    assert error.prompt_tokens > 256
    assert error.max_tokens is None
    assert error.param == "messages"


async def test_prompt_plus_max_tokens_over_the_context_is_rejected(
    small_engine: LlamaCppEngine,
) -> None:
    request = GenerationRequest(
        request_id="p",
        model=MODEL,
        prompt="word " * 200,
        sampling=SamplingParams(max_tokens=100),
    )
    with pytest.raises(ContextLengthExceededError) as caught:
        await anext(small_engine.generate(request))
    assert caught.value.param == "prompt"
    assert caught.value.max_tokens == 100
    assert caught.value.prompt_tokens + 100 > 256


async def test_long_prompt_is_prefilled_in_chunks_and_stops_at_the_context(
    small_engine: LlamaCppEngine,
) -> None:
    request = GenerationRequest(
        request_id="chunks",
        model=MODEL,
        prompt="one two three four " * 50,
        sampling=SamplingParams(temperature=0.0),
    )
    events = await collect(small_engine.generate(request))
    prompt_tokens = events[0]
    assert isinstance(prompt_tokens, PromptProcessed)
    assert prompt_tokens.prompt_tokens > 32 * 3  # several prefill chunks
    finished = events[-1]
    assert isinstance(finished, GenerationFinished)
    if finished.finish_reason == "length":  # ran until the context was full
        assert finished.prompt_tokens + finished.completion_tokens == 256


async def test_aclose_mid_stream_aborts_and_the_next_request_works(
    engine: LlamaCppEngine,
) -> None:
    reference = await collect(engine.generate(chat(max_tokens=8)))
    stream = engine.generate(chat(max_tokens=200))
    assert isinstance(await anext(stream), PromptProcessed)
    assert isinstance(await anext(stream), TokenDelta)
    await stream.aclose()
    scheduler = engine._scheduler
    assert scheduler is not None
    for _ in range(100):
        if not scheduler.running and not scheduler._waiting:
            break
        await asyncio.sleep(0.01)
    assert not scheduler.running
    again = await collect(engine.generate(chat(max_tokens=8)))
    assert text_of(again) == text_of(reference)  # the aborted sequence's KV was cleared


async def test_cancelling_the_consumer_aborts_the_sequence(engine: LlamaCppEngine) -> None:
    started = asyncio.Event()

    async def consume() -> None:
        async for event in engine.generate(chat(max_tokens=500)):
            if isinstance(event, TokenDelta):
                started.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(started.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = await collect(engine.generate(chat(max_tokens=3)))
    assert isinstance(events[-1], GenerationFinished)


async def test_abort_by_request_id_ends_the_stream_with_an_error(
    engine: LlamaCppEngine,
) -> None:
    stream = engine.generate(chat(request_id="to-abort", max_tokens=500))
    assert isinstance(await anext(stream), PromptProcessed)
    await engine.abort("to-abort")
    await engine.abort("unknown-id")
    with pytest.raises(GenerationAbortedError):
        async for _ in stream:
            pass


async def test_a_failing_sequence_fails_its_request_and_the_loop_goes_on(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = engine._model
    assert model is not None

    def broken_piece(token: int) -> bytes:
        raise RuntimeError("piece exploded")

    monkeypatch.setattr(model, "piece", broken_piece)
    stream = engine.generate(chat(max_tokens=8))
    assert isinstance(await anext(stream), PromptProcessed)
    with pytest.raises(EngineError, match="piece exploded"):
        await anext(stream)
    monkeypatch.undo()
    events = await collect(engine.generate(chat(max_tokens=3)))
    assert isinstance(events[-1], GenerationFinished)
    assert engine.health().ready


async def test_a_failed_decode_fails_the_request_and_the_loop_goes_on(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = engine._model
    assert model is not None
    monkeypatch.setattr(model, "decode", lambda batch: -3)
    with pytest.raises(EngineError, match="llama_decode failed"):
        await anext(engine.generate(chat(max_tokens=8)))
    monkeypatch.undo()
    reference = await collect(engine.generate(chat(max_tokens=8)))
    assert text_of(reference) == text_of(await collect(engine.generate(chat(max_tokens=8))))


async def test_same_seed_same_text_at_temperature_one(engine: LlamaCppEngine) -> None:
    def sampled(seed: int) -> GenerationRequest:
        return chat(max_tokens=24, temperature=1.0, top_p=0.95, seed=seed)

    first = text_of(await collect(engine.generate(sampled(1234))))
    second = text_of(await collect(engine.generate(sampled(1234))))
    assert first == second
    others = {text_of(await collect(engine.generate(sampled(seed)))) for seed in (1, 2, 3)}
    assert len(others | {first}) > 1


async def test_penalties_are_accepted(engine: LlamaCppEngine) -> None:
    request = chat(max_tokens=8, presence_penalty=1.5, frequency_penalty=1.0)
    events = await collect(engine.generate(request))
    assert isinstance(events[-1], GenerationFinished)


async def test_chat_template_renders_multi_turn_chatml(engine: LlamaCppEngine) -> None:
    assert engine._template is not None
    assert not engine._template.is_fallback
    rendered = engine.render_chat(
        (
            ChatMessage(role="system", content="You are terse."),
            ChatMessage(role="user", content="Hi"),
            ChatMessage(role="assistant", content="Hello."),
            ChatMessage(role="user", content="Bye"),
        )
    )
    assert rendered == (
        "<|im_start|>system\nYou are terse.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello.<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


async def test_the_gguf_template_adds_smollm2_default_system_prompt(
    engine: LlamaCppEngine,
) -> None:
    rendered = engine.render_chat((ChatMessage(role="user", content="Hi"),))
    assert rendered.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert rendered.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


async def test_bos_is_added_when_the_model_asks_and_never_doubled(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = engine._model
    assert model is not None and model.bos_id is not None
    assert not model.add_bos  # SmolLM2 does not ask for one
    raw = GenerationRequest(
        request_id="b", model=MODEL, prompt="Hello", sampling=SamplingParams(max_tokens=1)
    )
    plain = engine.prompt_tokens(raw)
    assert plain[0] != model.bos_id
    monkeypatch.setattr(model, "add_bos", True)
    assert engine.prompt_tokens(raw) == [model.bos_id, *plain]
    # SmolLM2's BOS is <|im_start|>, which its chat template already emits first
    chat_tokens = engine.prompt_tokens(chat())
    assert chat_tokens[0] == model.bos_id
    assert chat_tokens[1] != model.bos_id


async def test_template_special_tokens_become_single_tokens(engine: LlamaCppEngine) -> None:
    model = engine._model
    assert model is not None
    tokens = model.tokenize("<|im_start|>user\nHi<|im_end|>", add_special=False, parse_special=True)
    assert model.is_eog(tokens[-1])
    assert model.token_text(tokens[0]) == "<|im_start|>"


async def test_model_pieces_of_a_multibyte_text_detokenize_cleanly(
    engine: LlamaCppEngine,
) -> None:
    model = engine._model
    assert model is not None
    text = "naïve 日本語 🎉🐉 done"
    tokens = model.tokenize(text, add_special=False, parse_special=False)
    detok = IncrementalDetokenizer()
    chunks = [detok.feed(model.piece(token)) for token in tokens] + [detok.flush()]
    assert "".join(chunks) == text
    assert not any("\ufffd" in chunk for chunk in chunks)
    assert "" in chunks  # some character really was split over tokens


async def test_stopping_the_engine_fails_pending_requests(source: ModelSource) -> None:
    engine = LlamaCppEngine(source, context_size=1024, max_sequences=1)
    await engine.start()
    running = engine.generate(chat(request_id="running", max_tokens=400))
    waiting = engine.generate(chat(request_id="waiting", max_tokens=400))
    assert isinstance(await anext(running), PromptProcessed)
    waiting_first = asyncio.ensure_future(anext(waiting))
    await asyncio.sleep(0.05)
    await engine.stop()
    assert not engine.health().ready
    with pytest.raises(EngineUnavailableError):
        async for _ in running:
            pass
    with pytest.raises(EngineUnavailableError):
        await waiting_first
    with pytest.raises(EngineUnavailableError):
        await anext(engine.generate(chat()))
    await engine.stop()  # idempotent
