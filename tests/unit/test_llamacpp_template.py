"""Chat templates rendered in the sandbox, without a model."""

from __future__ import annotations

import pytest

from atrium.engines.base import ChatMessage
from atrium.engines.llamacpp.template import CHATML_TEMPLATE, ChatTemplate, ChatTemplateError
from atrium.errors import InvalidRequestError

CONVERSATION = (
    ChatMessage(role="system", content="Be brief."),
    ChatMessage(role="user", content="Hi"),
    ChatMessage(role="assistant", content="Hello!"),
    ChatMessage(role="user", content="Bye"),
)


def test_missing_template_falls_back_to_chatml() -> None:
    template = ChatTemplate(None)
    assert template.is_fallback
    assert template.source == CHATML_TEMPLATE
    assert template.render(CONVERSATION) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nBye<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_a_template_that_does_not_compile_falls_back_to_chatml() -> None:
    template = ChatTemplate("{% for m in messages %}")
    assert template.is_fallback
    assert template.render(CONVERSATION[1:2]).startswith("<|im_start|>user\nHi")


def test_hugging_face_globals_and_whitespace_control() -> None:
    source = (
        "{{ bos_token }}\n"
        "{% for m in messages %}\n"
        "  [{{ m.role }}{% if m.name %}:{{ m.name }}{% endif %}] {{ m.content | tojson }}\n"
        "{% endfor %}\n"
        "{% if add_generation_prompt %}[assistant]{% endif %}"
        "{{ eos_token if strftime_now('%Y') | length == 4 }}"
    )
    template = ChatTemplate(source, bos_token="<s>", eos_token="</s>")
    messages = (ChatMessage(role="user", content="héllo", name="ann"),)
    assert template.render(messages) == '<s>\n  [user:ann] "héllo"\n[assistant]</s>'
    assert not template.render(messages, add_generation_prompt=False).endswith("[assistant]</s>")


def test_raise_exception_becomes_an_invalid_request_on_messages() -> None:
    source = (
        "{% if messages[0]['role'] != 'user' %}"
        "{{ raise_exception('Conversations must start with a user message') }}"
        "{% endif %}ok"
    )
    template = ChatTemplate(source)
    assert template.render(CONVERSATION[1:2]) == "ok"
    with pytest.raises(ChatTemplateError) as caught:
        template.render(CONVERSATION)
    assert isinstance(caught.value, InvalidRequestError)
    assert caught.value.param == "messages"
    assert "user message" in caught.value.message


def test_the_sandbox_refuses_unsafe_attribute_access() -> None:
    template = ChatTemplate("{{ messages.__class__.__mro__ }}{{ ''.__class__.__subclasses__() }}")
    with pytest.raises(ChatTemplateError):
        template.render(CONVERSATION)


def test_the_sandbox_is_immutable() -> None:
    template = ChatTemplate("{{ messages.append({'role': 'x'}) }}")
    with pytest.raises(ChatTemplateError):
        template.render(CONVERSATION)
