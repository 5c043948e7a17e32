"""Render canonical results as OpenAI objects and server-sent events."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Literal

from atrium.api.annotations import (
    LATEST_STYLE,
    AnnotationStyle,
    filter_results,
    prompt_annotations_chunk,
    prompt_filter_results,
)
from atrium.api.openai.errors import openai_error_payload
from atrium.api.openai.logprobs import chat_logprobs, completion_logprobs
from atrium.api.request_log import RequestLog
from atrium.api.streaming import DONE_EVENT, sse_event
from atrium.engines.base import SamplingParams, TokenLogprob
from atrium.errors import AtriumError
from atrium.gateway.items import ChoiceFinished, TextPiece
from atrium.gateway.serving import CompletedGeneration, GenerationStream, TokenUsage
from atrium.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatDelta,
    FunctionCall,
    PromptTokensDetails,
    ToolCall,
    Usage,
)
from atrium.protocol.completions import Completion, CompletionChoice
from atrium.safety.results import FilterResults, PromptFilterResults
from atrium.structured.plan import TEXT_PLAN, FinalTurn, OutputPlan

ResponseKind = Literal["chat", "text"]


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    id: str
    created: int
    model: str
    sampling: SamplingParams

    @classmethod
    def new(cls, kind: ResponseKind, model: str, sampling: SamplingParams) -> ResponseMeta:
        prefix = "chatcmpl" if kind == "chat" else "cmpl"
        return cls(f"{prefix}-{uuid.uuid4().hex}", int(time.time()), model, sampling)


def render_usage(usage: TokenUsage) -> Usage:
    return Usage(
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
        prompt_tokens_details=PromptTokensDetails(cached_tokens=usage.cached_tokens),
    )


def record_usage(log: RequestLog, usage: TokenUsage, finish_reasons: tuple[str, ...]) -> None:
    log.prompt_tokens = usage.prompt_tokens
    log.completion_tokens = usage.completion_tokens
    log.cached_tokens = usage.cached_tokens
    log.finish_reason = ",".join(finish_reasons)


def render_chat_completion(
    meta: ResponseMeta, result: CompletedGeneration, plan: OutputPlan = TEXT_PLAN
) -> ChatCompletion:
    """The completion; with a plan, each choice's text read as JSON or tool calls."""
    wants_logprobs = meta.sampling.logprobs
    choices = []
    for index, choice in enumerate(result.choices):
        turn = plan.finish(choice.text, choice.finish_reason)
        choices.append(
            ChatChoice(
                index=index,
                message=assistant_message(turn),
                logprobs=chat_logprobs(choice.logprobs, meta.sampling.top_logprobs)
                if wants_logprobs
                else None,
                finish_reason=turn.finish_reason,
            )
        )
    return ChatCompletion(
        id=meta.id,
        created=meta.created,
        model=meta.model,
        choices=choices,
        usage=render_usage(result.usage),
    )


def assistant_message(turn: FinalTurn) -> AssistantMessage:
    calls = [
        ToolCall(id=call.id, function=FunctionCall(name=call.name, arguments=call.arguments))
        for call in turn.tool_calls
    ]
    if turn.legacy and calls:
        return AssistantMessage(content=None, function_call=calls[0].function)
    return AssistantMessage(content=turn.content, tool_calls=calls or None)


def render_text_completion(meta: ResponseMeta, result: CompletedGeneration) -> Completion:
    wants_logprobs = meta.sampling.logprobs
    return Completion(
        id=meta.id,
        created=meta.created,
        model=meta.model,
        choices=[
            CompletionChoice(
                text=choice.text or "",
                index=index,
                logprobs=completion_logprobs(choice.logprobs, meta.sampling.top_logprobs)
                if wants_logprobs
                else None,
                finish_reason=choice.finish_reason,
            )
            for index, choice in enumerate(result.choices)
        ],
        usage=render_usage(result.usage),
    )


def with_annotations(
    payload: dict[str, Any], result: CompletedGeneration, style: AnnotationStyle = LATEST_STYLE
) -> dict[str, Any]:
    """A rendered completion with the content filter's results, where a policy applied and
    the API version has annotations: ``prompt_filter_results`` and each choice's
    ``content_filter_results``."""
    if not style.enabled:
        return payload
    if result.prompt_results:
        payload[style.prompt_key] = prompt_filter_results(result.prompt_results, style)
    for rendered, choice in zip(payload["choices"], result.choices, strict=True):
        if choice.filter_results is not None:
            rendered["content_filter_results"] = filter_results(choice.filter_results, style)
    return payload


@dataclass(slots=True)
class _HeldChoice:
    """A choice's released text, kept for reading it as JSON or tool calls at its end."""

    pieces: list[str] = field(default_factory=list)
    logprobs: list[TokenLogprob] = field(default_factory=list)
    results: FilterResults | None = None

    def add(self, piece: TextPiece) -> None:
        self.pieces.append(piece.text)
        self.logprobs.extend(piece.logprobs)
        if piece.filter_results is not None:
            self.results = piece.filter_results

    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(slots=True)
class ChunkRenderer:
    """Frames of one streamed answer. With ``include_usage`` every chunk carries
    ``"usage": null`` and a last chunk with no choices carries the usage, as OpenAI does.
    With a content policy the first frame carries the prompt's filter results (Azure's
    ``prompt_filter_results`` frame) and each released piece its window's results, as the
    API version's ``annotations`` style says."""

    kind: ResponseKind
    meta: ResponseMeta
    include_usage: bool
    prompt_results: tuple[PromptFilterResults, ...] = ()
    plan: OutputPlan = TEXT_PLAN
    annotations: AnnotationStyle = LATEST_STYLE
    text_offsets: dict[int, int] = field(default_factory=dict)
    held: dict[int, _HeldChoice] = field(default_factory=dict)

    def on_piece(self, piece: TextPiece) -> list[bytes]:
        """The frames for a released piece. With tools, a choice's text is held until it
        ends (tool calls are sent when complete); JSON answers stream as content, kept for
        the final validation."""
        if self.kind != "chat" or self.plan.mode == "text":
            return [self.piece(piece)]
        held = self.held.setdefault(piece.choice, _HeldChoice())
        held.add(piece)
        if self.plan.calls_tools:
            return []
        return [self.piece(piece)]

    def on_finish(self, finished: ChoiceFinished) -> list[bytes]:
        if self.kind != "chat" or self.plan.mode == "text":
            return [self.closing(finished)]
        held = self.held.pop(finished.choice, None) or _HeldChoice()
        turn = self.plan.finish(held.text(), finished.finish_reason)
        frames: list[bytes] = []
        if self.plan.calls_tools:
            if turn.tool_calls:
                frames += self._call_frames(finished.choice, turn, held.results)
            elif turn.content:
                logprobs = (
                    chat_logprobs(tuple(held.logprobs), self.meta.sampling.top_logprobs)
                    if self.meta.sampling.logprobs
                    else None
                )
                delta = ChatDelta(content=turn.content)
                frames.append(self._chat(finished.choice, delta, None, logprobs, held.results))
        ending = ChatDelta()
        frames.append(
            self._chat(finished.choice, ending, turn.finish_reason, None, finished.filter_results)
        )
        return frames

    def _call_frames(
        self, index: int, turn: FinalTurn, results: FilterResults | None
    ) -> list[bytes]:
        """OpenAI's fragments: per call an opening chunk (id, name, empty arguments), then
        the arguments; the legacy ``function_call`` the same way without ids."""
        frames: list[bytes] = []
        last = len(turn.tool_calls) - 1
        for position, call in enumerate(turn.tool_calls):
            if turn.legacy:
                opening = ChatDelta(function_call={"name": call.name, "arguments": ""})
                arguments = ChatDelta(function_call={"arguments": call.arguments})
            else:
                function = {"name": call.name, "arguments": ""}
                opening = ChatDelta(
                    tool_calls=[
                        {"index": position, "id": call.id, "type": "function", "function": function}
                    ]
                )
                arguments = ChatDelta(
                    tool_calls=[{"index": position, "function": {"arguments": call.arguments}}]
                )
            frames.append(self._chat(index, opening, None))
            frames.append(
                self._chat(index, arguments, None, None, results if position == last else None)
            )
        return frames

    def openings(self) -> list[bytes]:
        frames = []
        if self.prompt_results and self.annotations.enabled:
            frames.append(
                sse_event(prompt_annotations_chunk(self.prompt_results, self.annotations))
            )
        if self.kind != "chat":
            return frames
        # A tools turn opens without content (OpenAI: null), as its text is held to the end.
        content = None if self.plan.calls_tools else ""
        opening = ChatDelta(role="assistant", content=content)
        frames += [self._chat(index, opening, None) for index in range(self.meta.sampling.n)]
        return frames

    def piece(self, piece: TextPiece) -> bytes:
        top_n = self.meta.sampling.top_logprobs
        results = piece.filter_results
        if self.kind == "chat":
            logprobs = chat_logprobs(piece.logprobs, top_n) if self.meta.sampling.logprobs else None
            delta = ChatDelta(content=piece.text)
            return self._chat(piece.choice, delta, None, logprobs, results)
        offset = self.text_offsets.get(piece.choice, 0)
        self.text_offsets[piece.choice] = offset + len(piece.text)
        choice = CompletionChoice(
            text=piece.text,
            index=piece.choice,
            logprobs=completion_logprobs(piece.logprobs, top_n, offset)
            if self.meta.sampling.logprobs
            else None,
            finish_reason=None,
        )
        return self._text(choice, results)

    def closing(self, finished: ChoiceFinished) -> bytes:
        results = finished.filter_results
        if self.kind == "chat":
            return self._chat(finished.choice, ChatDelta(), finished.finish_reason, None, results)
        choice = CompletionChoice(
            text="", index=finished.choice, finish_reason=finished.finish_reason
        )
        return self._text(choice, results)

    def usage(self, usage: TokenUsage) -> bytes:
        return sse_event(
            {
                "id": self.meta.id,
                "object": "chat.completion.chunk" if self.kind == "chat" else "text_completion",
                "created": self.meta.created,
                "model": self.meta.model,
                "choices": [],
                "usage": render_usage(usage).model_dump(),
            }
        )

    def _chat(
        self,
        index: int,
        delta: ChatDelta,
        finish_reason: str | None,
        logprobs: Any = None,
        results: FilterResults | None = None,
    ) -> bytes:
        meta = self.meta
        chunk = ChatCompletionChunk(
            id=meta.id,
            created=meta.created,
            model=meta.model,
            choices=[
                ChatChunkChoice(
                    index=index, delta=delta, logprobs=logprobs, finish_reason=finish_reason
                )
            ],
        )
        return self._event(
            chunk.model_dump(exclude=None if self.include_usage else {"usage"}), results
        )

    def _text(self, choice: CompletionChoice, results: FilterResults | None = None) -> bytes:
        meta = self.meta
        chunk = Completion(id=meta.id, created=meta.created, model=meta.model, choices=[choice])
        return self._event(
            chunk.model_dump(exclude=None if self.include_usage else {"usage"}), results
        )

    def _event(self, payload: dict[str, Any], results: FilterResults | None) -> bytes:
        if results is not None and self.annotations.enabled:
            rendered = filter_results(results, self.annotations)
            payload["choices"][0]["content_filter_results"] = rendered
        return sse_event(payload)


async def stream_events(
    renderer: ChunkRenderer, stream: GenerationStream, log: RequestLog
) -> AsyncIterator[bytes]:
    """The whole SSE body of a streamed chat or text completion, ``[DONE]`` included.

    An error after the response started is sent as an ``error`` event in OpenAI's envelope
    (the SDKs raise it), since the status line has already gone out.
    """
    try:
        for opening in renderer.openings():
            yield opening
        async with aclosing(stream.items()) as items:
            async for item in items:
                if isinstance(item, TextPiece):
                    if item.text:
                        log.mark_first_token()
                    for frame in renderer.on_piece(item):
                        yield frame
                else:
                    for frame in renderer.on_finish(item):
                        yield frame
        outcome = stream.outcome
        assert outcome is not None
        record_usage(log, outcome.usage, outcome.finish_reasons)
        if renderer.include_usage:
            yield renderer.usage(outcome.usage)
        yield DONE_EVENT
    except AtriumError as exc:
        _, body = openai_error_payload(exc)
        yield sse_event(body)
    finally:
        if stream.outcome is None:  # cut short: log what was generated so far
            log.prompt_tokens = stream.prompt_tokens
            log.completion_tokens = stream.completion_tokens
