"""What the scheduler knows about one request: its submission and, once admitted, its
running state (KV position, sampler, detokenizer, tokens not yet sent)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from atrium.engines.base import GenerationEvent, SamplingParams
from atrium.engines.llamacpp.detokenize import IncrementalDetokenizer
from atrium.engines.llamacpp.model import SamplerChain

QueueItem = GenerationEvent | BaseException
"""What a request's asyncio queue carries: events, or the exception that ends the stream."""

_keys = itertools.count(1)


class EventSink:
    """Delivers events from the scheduler thread to one request's asyncio queue."""

    __slots__ = ("_loop", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.queue: asyncio.Queue[QueueItem] = asyncio.Queue()

    def put(self, item: QueueItem) -> bool:
        """Hand ``item`` to the consumer's loop; False when that loop is gone."""
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the consumer's event loop is closed
            return False
        return True


@dataclass(eq=False, slots=True)
class Submission:
    """A request handed to the scheduler: prompt tokens and how to sample the rest."""

    request_id: str
    prompt: list[int]
    sampling: SamplingParams
    max_new_tokens: int
    sink: EventSink
    key: int = field(default_factory=lambda: next(_keys))


@dataclass(frozen=True, slots=True)
class Abort:
    """Stop one submission (by key: its consumer is gone) or all with a request id."""

    key: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """End the scheduler thread."""


InboxMessage = Submission | Abort | Stop
"""What reaches the scheduler thread through its inbox."""


@dataclass(eq=False, slots=True)
class Sequence:
    """A submission being served: it owns a sequence id in the llama context."""

    submission: Submission
    seq_id: int
    sampler: SamplerChain
    detokenizer: IncrementalDetokenizer = field(default_factory=IncrementalDetokenizer)
    n_past: int = 0
    """Tokens of this sequence in the KV cache (the position of the next one)."""
    prefilled: int = 0
    """Prompt tokens already decoded."""
    pending_token: int | None = None
    """The last sampled token, decoded by the next step."""
    logits_index: int | None = None
    """Where this sequence's logits are in the current batch, when it has some."""
    generated: int = 0
    held_ids: list[int] = field(default_factory=list)
    """Sampled tokens whose text is not complete yet (a character split over tokens)."""

    @property
    def prompt_remaining(self) -> int:
        return len(self.submission.prompt) - self.prefilled
