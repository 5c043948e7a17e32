"""Content filtering in the generation pipeline: prompts before dispatch, completions on
the stream in windows and on the final text.

- The prompt is screened before the engine sees it: a block raises ``PromptFilteredError``
  (the dialects answer 400 with the results) and no engine work is done; redacted personal
  data is replaced in the messages the engine gets.
- Streamed completion text of each choice is held until a window of
  ``stream_window_chars`` passed the checks, then released as one piece carrying the
  window's results. A window that fails ends that choice with ``content_filter``; once every
  choice has ended the generation is closed (the engine stops).
- At the end of each choice the whole text is checked once more (what windows see in parts
  may only be harmful as a whole); a failure still ends the choice with ``content_filter``.

The checks are CPU work and run in worker threads, off the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field, replace

from atrium.engines.base import GenerationRequest, TokenLogprob
from atrium.errors import PromptFilteredError
from atrium.gateway.items import ChoiceFinished, StreamItem, TextPiece
from atrium.safety.pipeline import ContentFilter, Screening, Segment, Source, WindowScreening
from atrium.safety.policy import ContentPolicySettings
from atrium.safety.results import FilterResults, PromptFilterResults

# Context from already released text that the classifiers see with each new window.
WINDOW_CONTEXT_CHARS = 200
ROLE_SOURCES: dict[str, Source] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
    "function": "tool",
}

OutcomeHook = Callable[[str, FilterResults], None]


@dataclass(frozen=True, slots=True)
class ScreenedPrompt:
    request: GenerationRequest
    results: tuple[PromptFilterResults, ...]


def prompt_segments(request: GenerationRequest) -> list[Segment]:
    if request.messages is not None:
        return [Segment(m.content, ROLE_SOURCES.get(m.role, "user")) for m in request.messages]
    return [Segment(request.prompt or "", "user")]


def with_texts(request: GenerationRequest, texts: tuple[str, ...]) -> GenerationRequest:
    """``request`` with its prompt texts replaced (after redaction)."""
    if request.messages is not None:
        messages = tuple(
            message if message.content == text else replace(message, content=text)
            for message, text in zip(request.messages, texts, strict=True)
        )
        return replace(request, messages=messages)
    return replace(request, prompt=texts[0])


class ContentScreen:
    """One request's content filtering under one policy."""

    def __init__(
        self,
        content_filter: ContentFilter,
        policy: ContentPolicySettings,
        on_outcome: OutcomeHook | None = None,
    ) -> None:
        self._filter = content_filter
        self.policy = policy
        self._on_outcome = on_outcome

    def _report(self, direction: str, results: FilterResults) -> None:
        if self._on_outcome is not None:
            self._on_outcome(direction, results)

    async def screen_prompt(self, request: GenerationRequest) -> ScreenedPrompt:
        segments = prompt_segments(request)
        screening = await asyncio.to_thread(self._filter.screen, self.policy, "prompt", segments)
        self._report("prompt", screening.results)
        if screening.blocked:
            raise PromptFilteredError(screening.results)
        if screening.texts != tuple(segment.text for segment in segments):
            request = with_texts(request, screening.texts)
        return ScreenedPrompt(request, (PromptFilterResults(0, screening.results),))

    async def screen_completion(self, text: str) -> Screening:
        segments = [Segment(text, "completion")]
        screening = await asyncio.to_thread(
            self._filter.screen, self.policy, "completion", segments
        )
        self._report("completion", screening.results)
        return screening

    async def screen_window(self, tail: str, pending: str, *, final: bool) -> WindowScreening:
        window = await asyncio.to_thread(
            self._filter.screen_window, self.policy, tail, pending, final=final
        )
        if window.blocked:
            self._report("completion", window.results)
        return window

    def guard(self, choices: int) -> StreamGuard:
        return StreamGuard(self, choices)


@dataclass(slots=True)
class _ChoiceBuffer:
    pending: str = ""
    logprobs: list[TokenLogprob] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    tail: str = ""  # the end of the released text: context for the next window
    ended: bool = False

    def release(self, text: str) -> None:
        self.released.append(text)
        self.tail = (self.tail + text)[-WINDOW_CONTEXT_CHARS:]


class StreamGuard:
    """Holds each choice's streamed text until its window passed the completion checks."""

    def __init__(self, screen: ContentScreen, choices: int) -> None:
        self._screen = screen
        self._window = screen.policy.stream_window_chars
        self._choices = [_ChoiceBuffer() for _ in range(choices)]

    def all_ended(self) -> bool:
        return all(buffer.ended for buffer in self._choices)

    async def apply(self, items: AsyncIterator[StreamItem]) -> AsyncGenerator[StreamItem, None]:
        async for item in items:
            buffer = self._choices[item.choice]
            if buffer.ended:
                continue
            if isinstance(item, TextPiece):
                buffer.pending += item.text
                buffer.logprobs.extend(item.logprobs)
                if len(buffer.pending) >= self._window:
                    for out in await self._release(item.choice, final=False):
                        yield out
            else:
                for out in await self._finish(item):
                    yield out
            if self.all_ended():
                return

    async def _release(self, choice: int, *, final: bool) -> list[StreamItem]:
        """Check the pending text; release what passed, or cut the choice."""
        buffer = self._choices[choice]
        released, held, results = "", "", None
        if buffer.pending:
            window = await self._screen.screen_window(buffer.tail, buffer.pending, final=final)
            if window.blocked:
                return [self._cut(choice, window.results)]
            released, held, results = window.released, window.held, window.results
        if final:
            whole = "".join(buffer.released) + released
            if len(whole) > self._window:  # seen in parts so far: judge it as a whole too
                screening = await self._screen.screen_completion(whole)
                if screening.blocked:
                    return [self._cut(choice, screening.results)]
        buffer.pending = held
        logprobs = tuple(buffer.logprobs)
        buffer.logprobs.clear()
        buffer.release(released)
        if not released and not logprobs:
            return []
        return [TextPiece(choice, released, logprobs, results)]

    def _cut(self, choice: int, results: FilterResults) -> ChoiceFinished:
        buffer = self._choices[choice]
        buffer.ended = True
        buffer.pending = ""
        buffer.logprobs.clear()
        return ChoiceFinished(choice, "content_filter", results)

    async def _finish(self, finished: ChoiceFinished) -> list[StreamItem]:
        out = await self._release(finished.choice, final=True)
        buffer = self._choices[finished.choice]
        if buffer.ended:  # cut by the last window or the whole-text check
            return out
        buffer.ended = True
        return [*out, finished]
