"""Render canonical results as OpenAI objects and server-sent events."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Literal

from atrium.api.errors import openai_error_payload
from atrium.api.request_log import RequestLog
from atrium.api.streaming import DONE_EVENT, sse_event
from atrium.errors import AtriumError
from atrium.gateway.serving import CompletedGeneration, GenerationStream, TokenUsage
from atrium.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatDelta,
    Usage,
)
from atrium.protocol.completions import Completion, CompletionChoice

ResponseKind = Literal["chat", "text"]


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    id: str
    created: int
    model: str

    @classmethod
    def new(cls, kind: ResponseKind, model: str) -> ResponseMeta:
        prefix = "chatcmpl" if kind == "chat" else "cmpl"
        return cls(id=f"{prefix}-{uuid.uuid4().hex}", created=int(time.time()), model=model)


def render_usage(usage: TokenUsage) -> Usage:
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def record_outcome(log: RequestLog, stream: GenerationStream) -> None:
    log.prompt_tokens = stream.prompt_tokens
    log.completion_tokens = stream.completion_tokens
    if stream.outcome is not None:
        log.finish_reason = stream.outcome.finish_reason


def render_chat_completion(meta: ResponseMeta, result: CompletedGeneration) -> ChatCompletion:
    return ChatCompletion(
        id=meta.id,
        created=meta.created,
        model=meta.model,
        choices=[
            ChatChoice(
                index=0,
                message=AssistantMessage(content=result.text),
                finish_reason=result.outcome.finish_reason,
            )
        ],
        usage=render_usage(result.outcome.usage),
    )


def render_text_completion(meta: ResponseMeta, result: CompletedGeneration) -> Completion:
    return Completion(
        id=meta.id,
        created=meta.created,
        model=meta.model,
        choices=[CompletionChoice(text=result.text, finish_reason=result.outcome.finish_reason)],
        usage=render_usage(result.outcome.usage),
    )


@dataclass(frozen=True, slots=True)
class ChunkRenderer:
    """Frames of one streamed answer. With ``include_usage`` every chunk carries
    ``"usage": null`` and a last chunk with no choices carries the usage, as OpenAI does."""

    kind: ResponseKind
    meta: ResponseMeta
    include_usage: bool

    def opening(self) -> bytes | None:
        if self.kind == "chat":
            return self._frame(ChatDelta(role="assistant", content=""), None)
        return None

    def text(self, text: str) -> bytes:
        return self._frame(ChatDelta(content=text) if self.kind == "chat" else text, None)

    def closing(self, finish_reason: str) -> bytes:
        return self._frame(ChatDelta() if self.kind == "chat" else "", finish_reason)

    def usage(self, usage: TokenUsage) -> bytes:
        obj = "chat.completion.chunk" if self.kind == "chat" else "text_completion"
        return sse_event(
            {
                "id": self.meta.id,
                "object": obj,
                "created": self.meta.created,
                "model": self.meta.model,
                "choices": [],
                "usage": render_usage(usage).model_dump(),
            }
        )

    def _frame(self, content: ChatDelta | str, finish_reason: str | None) -> bytes:
        meta = self.meta
        chunk: ChatCompletionChunk | Completion
        if isinstance(content, ChatDelta):
            chunk = ChatCompletionChunk(
                id=meta.id,
                created=meta.created,
                model=meta.model,
                choices=[ChatChunkChoice(delta=content, finish_reason=finish_reason)],
            )
        else:
            chunk = Completion(
                id=meta.id,
                created=meta.created,
                model=meta.model,
                choices=[CompletionChoice(text=content, finish_reason=finish_reason)],
            )
        return sse_event(chunk.model_dump(exclude=None if self.include_usage else {"usage"}))


async def stream_events(
    renderer: ChunkRenderer, stream: GenerationStream, log: RequestLog
) -> AsyncIterator[bytes]:
    """The whole SSE body of a streamed chat or text completion, ``[DONE]`` included.

    An error after the response started is sent as an ``error`` event in OpenAI's envelope
    (the SDKs raise it), since the status line has already gone out.
    """
    try:
        opening = renderer.opening()
        if opening is not None:
            yield opening
        async with aclosing(stream.pieces()) as pieces:
            async for text in pieces:
                yield renderer.text(text)
        outcome = stream.outcome
        assert outcome is not None
        yield renderer.closing(outcome.finish_reason)
        if renderer.include_usage:
            yield renderer.usage(outcome.usage)
        yield DONE_EVENT
    except AtriumError as exc:
        _, body = openai_error_payload(exc)
        yield sse_event(body)
    finally:
        record_outcome(log, stream)
