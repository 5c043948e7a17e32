"""A deterministic engine for tests of everything above the engines.

It "tokenizes" text into words (each with its leading whitespace), answers with a reply
derived from the request (or a scripted one; choice ``i > 0`` of ``n`` appends `` [i]``),
and can be told to be slow, to fail after a number of tokens, to be full (``max_active``)
or not ready. It reports deterministic logprobs and mimics a prefix cache. It records
what it was asked and what was aborted so that tests can assert on the engine's side.
``tool_format`` is the tool format its models declare (``hermes``: as if their chat template
knew tools; its prompt then shows the tools and tool calls as JSON lines).
"""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field

from atrium.engines.base import (
    Engine,
    EngineHealth,
    FinishReason,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    PromptProcessed,
    TokenDelta,
    TokenLogprob,
    ToolFormat,
    TopLogprob,
)
from atrium.errors import (
    ContextLengthExceededError,
    EngineError,
    EngineOverloadedError,
    ModelNotFoundError,
)

TOKEN_PATTERN = re.compile(r"\s*\S+|\s+")
FAKE_VOCAB_SIZE = 32_000


def fake_tokenize(text: str) -> list[str]:
    return TOKEN_PATTERN.findall(text)


def fake_token_id(piece: str) -> int:
    return zlib.crc32(piece.encode("utf-8")) % FAKE_VOCAB_SIZE


def default_reply(request: GenerationRequest) -> str:
    if request.messages is not None:
        last_user = next(
            (message.content for message in reversed(request.messages) if message.role == "user"),
            "",
        )
        return f"You said: {last_user}"
    return f" and then {request.prompt}"


def render_fake_prompt(request: GenerationRequest) -> str:
    if request.prompt is not None:
        return request.prompt
    assert request.messages is not None
    lines = [f"tools: {json.dumps([tool.name for tool in request.tools])}"] if request.tools else []
    for message in request.messages:
        calls = [{"name": call.name, "arguments": call.arguments} for call in message.tool_calls]
        suffix = f" {json.dumps(calls)}" if calls else ""
        lines.append(f"{message.role}: {message.content}{suffix}")
    return "\n".join([*lines, "assistant:"])


def fake_logprob(token_id: int, piece: str, position: int, top_n: int) -> TokenLogprob:
    """A deterministic, well-formed log-probability: the token itself is the most likely."""
    logprob = -0.25 * (position % 4)
    alternatives = tuple(
        TopLogprob(
            token_id=(token_id + rank) % FAKE_VOCAB_SIZE,
            token=piece if rank == 0 else f"{piece}~{rank}",
            bytes=(piece if rank == 0 else f"{piece}~{rank}").encode("utf-8"),
            logprob=logprob - rank,
        )
        for rank in range(top_n)
    )
    return TokenLogprob(token_id, piece, piece.encode("utf-8"), logprob, alternatives)


@dataclass
class FakeBehaviour:
    """What the fake engine does; tests change it between requests."""

    reply: Callable[[GenerationRequest], str] = default_reply
    token_delay_s: float = 0.0
    fail_after_tokens: int | None = None


@dataclass
class FakeEngine(Engine):
    model_ids: tuple[str, ...] = ("fake-model",)
    context_size: int = 2048
    behaviour: FakeBehaviour = field(default_factory=FakeBehaviour)
    ready: bool = False
    requests: list[GenerationRequest] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)
    finished: list[str] = field(default_factory=list)
    active: set[str] = field(default_factory=set)
    max_active: int | None = None
    seen_prompts: list[list[str]] = field(default_factory=list)
    tool_format: ToolFormat = "envelope"

    async def start(self) -> None:
        self.ready = True

    async def stop(self) -> None:
        self.ready = False

    def models(self) -> Sequence[ModelInfo]:
        return [
            ModelInfo(id=model_id, context_size=self.context_size, tool_format=self.tool_format)
            for model_id in self.model_ids
        ]

    def health(self) -> EngineHealth:
        return EngineHealth(ready=self.ready, detail="" if self.ready else "fake engine stopped")

    async def count_tokens(self, model: str, text: str) -> int:
        self._check_model(model)
        return len(fake_tokenize(text))

    async def abort(self, request_id: str) -> None:
        if request_id in self.active:
            self.active.discard(request_id)
            self.aborted.append(request_id)

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        return self._generate(request)

    async def _generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        self._check_model(request.model)
        if self.max_active is not None and len(self.active) >= self.max_active:
            raise EngineOverloadedError("the fake engine is full", retry_after_s=2.0)
        self.requests.append(request)
        prompt = fake_tokenize(render_fake_prompt(request))
        budget = self._completion_budget(request, len(prompt))
        cached = self._cached_prefix(prompt)
        replies = [
            fake_tokenize(self._reply(request, index)) for index in range(request.sampling.n)
        ]
        self.active.add(request.request_id)
        completed = False
        try:
            yield PromptProcessed(prompt_tokens=len(prompt), cached_tokens=cached)
            async for event in self._choices(request, replies, budget, len(prompt), cached):
                yield event
            completed = True
        finally:
            if request.request_id in self.active:
                self.active.discard(request.request_id)
                (self.finished if completed else self.aborted).append(request.request_id)

    async def _choices(
        self,
        request: GenerationRequest,
        replies: list[list[str]],
        budget: int,
        prompt_tokens: int,
        cached: int,
    ) -> AsyncGenerator[GenerationEvent, None]:
        """The choices' tokens round-robin, then each choice's finish."""
        emitted = 0
        for position in range(min(budget, max(len(reply) for reply in replies))):
            for choice, reply in enumerate(replies):
                if position >= len(reply):
                    continue
                if self.behaviour.fail_after_tokens == emitted:
                    raise EngineError("fake engine failure (scripted)")
                await asyncio.sleep(self.behaviour.token_delay_s)
                emitted += 1
                yield self._delta(request, reply[position], choice, position)
        for choice, reply in enumerate(replies):
            reason: FinishReason = "length" if len(reply) > budget else "stop"
            yield GenerationFinished(
                reason, prompt_tokens, min(len(reply), budget), choice, cached_tokens=cached
            )

    def _delta(
        self, request: GenerationRequest, piece: str, choice: int, position: int
    ) -> TokenDelta:
        token_id = fake_token_id(piece)
        logprobs: tuple[TokenLogprob, ...] = ()
        if request.sampling.logprobs:
            logprobs = (fake_logprob(token_id, piece, position, request.sampling.top_logprobs),)
        return TokenDelta(text=piece, token_ids=(token_id,), choice=choice, logprobs=logprobs)

    def _reply(self, request: GenerationRequest, choice: int) -> str:
        reply = self.behaviour.reply(request)
        return reply if choice == 0 else f"{reply} [{choice}]"

    def _cached_prefix(self, prompt: list[str]) -> int:
        """Mimic a prefix cache: tokens shared with the longest matching earlier prompt."""
        best = 0
        for earlier in self.seen_prompts:
            shared = 0
            for mine, theirs in zip(prompt, earlier, strict=False):
                if mine != theirs:
                    break
                shared += 1
            best = max(best, shared)
        self.seen_prompts.append(prompt)
        return min(best, len(prompt) - 1) if prompt else 0

    def _completion_budget(self, request: GenerationRequest, prompt_tokens: int) -> int:
        max_tokens = request.sampling.max_tokens
        param = "messages" if request.messages is not None else "prompt"
        if prompt_tokens >= self.context_size or (
            max_tokens is not None and prompt_tokens + max_tokens > self.context_size
        ):
            raise ContextLengthExceededError(
                context_size=self.context_size,
                prompt_tokens=prompt_tokens,
                max_tokens=max_tokens,
                param=param,
            )
        room = self.context_size - prompt_tokens
        return room if max_tokens is None else min(room, max_tokens)

    def _check_model(self, model: str) -> None:
        if model not in self.model_ids:
            raise ModelNotFoundError(model)
