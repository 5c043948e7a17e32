"""The Azure OpenAI spec helper (tests/azure_spec.py) accepts what the specs allow and rejects
what they do not, for both vendored API versions."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests.azure_spec import (
    FIXTURES,
    SPEC_FILES,
    SPEC_VERSIONS,
    azure_spec_document,
    validate_azure_response,
    validate_azure_schema,
)

CHAT = "/deployments/{deployment-id}/chat/completions"
COMPLETIONS = "/deployments/{deployment-id}/completions"
EMBEDDINGS = "/deployments/{deployment-id}/embeddings"

SAFE = {"filtered": False, "severity": "safe"}
CHAT_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "system_fingerprint": "fp_atrium",
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": {
                "hate": SAFE,
                "self_harm": SAFE,
                "sexual": SAFE,
                "violence": SAFE,
                "jailbreak": {"filtered": False, "detected": False},
            },
        }
    ],
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello!", "refusal": None},
            "finish_reason": "stop",
            "logprobs": None,
            "content_filter_results": {
                "hate": SAFE,
                "self_harm": SAFE,
                "sexual": SAFE,
                "violence": SAFE,
            },
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
}
CHAT_CHUNK: dict[str, Any] = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion.chunk",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "choices": [
        {"index": 0, "delta": {"role": "assistant", "content": "Hel"}, "finish_reason": None}
    ],
}
TEXT_COMPLETION: dict[str, Any] = {
    "id": "cmpl-abc123",
    "object": "text_completion",
    "created": 1_700_000_000,
    "model": "gpt-35-turbo-instruct",
    "choices": [{"index": 0, "text": " world", "finish_reason": "length", "logprobs": None}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}
ERROR = {
    "error": {
        "code": "content_filter",
        "message": "The response was filtered due to the prompt triggering a content policy.",
        "param": "prompt",
        "type": "invalid_request_error",
        "inner_error": {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_results": {
                "hate": SAFE,
                "self_harm": SAFE,
                "sexual": {"filtered": True, "severity": "high"},
                "violence": SAFE,
            },
        },
    }
}

pytestmark = pytest.mark.parametrize("version", SPEC_VERSIONS)


def changed(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with the dotted ``path`` set to ``value`` (or removed when
    ``value`` is ``...``)."""
    out = copy.deepcopy(body)
    *parents, last = path.split(".")
    node: Any = out
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return out


def test_the_vendored_spec_is_the_named_version(version: str) -> None:
    path = FIXTURES / SPEC_FILES[version]
    assert path.is_file()
    assert path.is_relative_to(Path(__file__).resolve().parents[1])
    assert str(azure_spec_document(version)["info"]["version"]) == version


def test_a_correct_chat_completion_passes(version: str) -> None:
    validate_azure_response(version, CHAT, "post", 200, CHAT_COMPLETION)
    validate_azure_response(version, CHAT, "POST", 200, changed(CHAT_COMPLETION, "usage", ...))


def test_nullable_members_accept_null_but_stay_required(version: str) -> None:
    validate_azure_response(
        version, CHAT, "post", 200, changed(CHAT_COMPLETION, "choices.0.message.content", None)
    )
    with pytest.raises(AssertionError, match=r"'refusal' is a required property"):
        validate_azure_response(
            version, CHAT, "post", 200, changed(CHAT_COMPLETION, "choices.0.message.refusal", ...)
        )
    with pytest.raises(AssertionError, match=r"'logprobs' is a required property"):
        validate_azure_response(
            version, CHAT, "post", 200, changed(CHAT_COMPLETION, "choices.0.logprobs", ...)
        )


def test_created_as_a_string_fails(version: str) -> None:
    body = changed(CHAT_COMPLETION, "created", "1700000000")
    with pytest.raises(AssertionError) as raised:
        validate_azure_response(version, CHAT, "post", 200, body)
    message = str(raised.value)
    assert f"violates Azure OpenAI {version}" in message
    assert "at $.created: '1700000000' is not of type 'integer'" in message
    # The 200 schema is oneOf(completion, chunk): each alternative's failure is listed.
    assert "(createChatCompletionResponse)" in message
    assert "(createChatCompletionStreamResponse)" in message


def test_missing_choices_fails(version: str) -> None:
    with pytest.raises(AssertionError, match=r"'choices' is a required property"):
        validate_azure_response(
            version, CHAT, "post", 200, changed(CHAT_COMPLETION, "choices", ...)
        )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("object", "chat.completions", "is not one of ['chat.completion']"),
        ("choices.0.finish_reason", "eos", "'eos' is not one of"),
        ("choices.0.message.content", 42, "42 is not of type 'string', 'null'"),
        ("usage.total_tokens", "12", "'12' is not of type 'integer'"),
        ("usage.prompt_tokens", ..., "'prompt_tokens' is a required property"),
        ("system_fingerprint", None, "None is not of type 'string'"),
        ("prompt_filter_results.0.content_filter_results.hate.severity", "none", "'none'"),
    ],
)
def test_each_violation_is_reported(version: str, path: str, value: Any, expected: str) -> None:
    with pytest.raises(AssertionError) as raised:
        validate_azure_response(version, CHAT, "post", 200, changed(CHAT_COMPLETION, path, value))
    assert expected in str(raised.value)


def test_all_violations_are_listed_together(version: str) -> None:
    body = changed(changed(CHAT_COMPLETION, "id", 1), "model", None)
    with pytest.raises(AssertionError) as raised:
        validate_azure_response(version, CHAT, "post", 200, body)
    assert "at $.id: 1 is not of type 'string'" in str(raised.value)
    assert "at $.model: None is not of type 'string'" in str(raised.value)


def test_stream_chunks(version: str) -> None:
    validate_azure_response(version, CHAT, "post", 200, CHAT_CHUNK)
    validate_azure_schema(version, "createChatCompletionStreamResponse", CHAT_CHUNK)
    last = changed(CHAT_CHUNK, "choices.0", {"index": 0, "delta": {}, "finish_reason": "stop"})
    validate_azure_schema(version, "createChatCompletionStreamResponse", last)
    with pytest.raises(AssertionError, match=r"'finish_reason' is a required property"):
        validate_azure_schema(
            version,
            "createChatCompletionStreamResponse",
            changed(CHAT_CHUNK, "choices.0.finish_reason", ...),
        )
    with pytest.raises(AssertionError, match=r"is not one of \['chat.completion.chunk'\]"):
        validate_azure_schema(version, "createChatCompletionStreamResponse", CHAT_COMPLETION)


def test_text_completions(version: str) -> None:
    validate_azure_response(version, COMPLETIONS, "post", 200, TEXT_COMPLETION)
    with pytest.raises(AssertionError, match=r"'text' is a required property"):
        validate_azure_response(
            version, COMPLETIONS, "post", 200, changed(TEXT_COMPLETION, "choices.0.text", ...)
        )
    with pytest.raises(AssertionError, match=r"'tool_calls' is not one of"):
        validate_azure_response(
            version,
            COMPLETIONS,
            "post",
            200,
            changed(TEXT_COMPLETION, "choices.0.finish_reason", "tool_calls"),
        )


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500])
@pytest.mark.parametrize("path", [CHAT, COMPLETIONS])
def test_an_error_in_the_spec_shape_passes(version: str, path: str, status: int) -> None:
    validate_azure_response(version, path, "post", status, ERROR)
    validate_azure_response(
        version, path, "post", status, {"error": {"code": "404", "message": "not found"}}
    )


def test_error_members_of_the_wrong_type_fail(version: str) -> None:
    body = {
        "error": {
            "code": 400,
            "message": ["bad"],
            "inner_error": {"code": "SomethingElse", "content_filter_results": []},
        }
    }
    with pytest.raises(AssertionError) as raised:
        validate_azure_response(version, CHAT, "post", 400, body)
    message = str(raised.value)
    assert "(4 error(s))" in message
    for expected in (
        "at $.error.code: 400 is not of type 'string'",
        "at $.error.message: ['bad'] is not of type 'string'",
        "at $.error.inner_error.code: 'SomethingElse' is not one of",
        "at $.error.inner_error.content_filter_results: [] is not of type 'object'",
    ):
        assert expected in message


def test_the_live_error_form_needs_live_form(version: str) -> None:
    """The live service sends null ``type``/``param``/``code`` (and ``innererror``, ``status``),
    where the spec types those members as strings."""
    live = {
        "error": {
            "message": "The response was filtered due to the prompt triggering a content policy.",
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": {"violence": {"filtered": True, "severity": "medium"}},
            },
        }
    }
    unsupported = {
        "error": {
            "message": "Unrecognized request argument supplied: parallel_tool_calls.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
    for body in (live, unsupported):
        with pytest.raises(AssertionError, match=r"None is not of type 'string'"):
            validate_azure_response(version, CHAT, "post", 400, body)
        validate_azure_response(version, CHAT, "post", 400, body, live_form=True)
    with pytest.raises(AssertionError, match=r"\$\.error\.message: None is not of type 'string'"):
        validate_azure_response(
            version, CHAT, "post", 400, {"error": {"message": None}}, live_form=True
        )
    # live_form changes nothing else.
    validate_azure_response(version, CHAT, "post", 200, CHAT_COMPLETION, live_form=True)
    with pytest.raises(AssertionError, match=r"'choices' is a required property"):
        validate_azure_response(
            version, CHAT, "post", 200, changed(CHAT_COMPLETION, "choices", ...), live_form=True
        )


def test_undeclared_paths_methods_and_statuses_fail(version: str) -> None:
    with pytest.raises(AssertionError, match="defines no path"):
        validate_azure_response(version, "/chat/completions", "post", 200, CHAT_COMPLETION)
    with pytest.raises(AssertionError, match="defines no GET"):
        validate_azure_response(version, CHAT, "get", 200, CHAT_COMPLETION)
    # Embeddings declares only its 200: no error schema to check a 400 against.
    with pytest.raises(AssertionError, match="declares no such response"):
        validate_azure_response(version, EMBEDDINGS, "post", 400, ERROR)
    with pytest.raises(AssertionError, match="defines no schema"):
        validate_azure_schema(version, "noSuchSchema", {})


def test_an_unknown_version_is_refused(version: str) -> None:
    with pytest.raises(ValueError, match="unknown Azure spec version"):
        validate_azure_response(version + "-nope", CHAT, "post", 200, CHAT_COMPLETION)
