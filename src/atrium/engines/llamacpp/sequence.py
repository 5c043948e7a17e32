"""What the scheduler knows about one request: its submission (with the state shared by its
``n`` choices once admitted) and, per choice, a running sequence (KV position, sampler,
detokenizer, tokens not yet sent). Also the event delivery from the scheduler thread."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import dataclass, field

from atrium.engines.base import GenerationEvent, SamplingParams, TokenLogprob
from atrium.engines.llamacpp.detokenize import IncrementalDetokenizer
from atrium.engines.llamacpp.sampler_chain import SamplerChain

QueueItem = GenerationEvent | BaseException
"""What a request's asyncio queue carries: events, or the exception that ends the stream."""

_keys = itertools.count(1)


class EventSink:
    """One request's asyncio queue, fed from the scheduler thread through a ``Dispatcher``."""

    __slots__ = ("alive", "loop", "queue")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: asyncio.Queue[QueueItem] = asyncio.Queue()
        self.alive = True
        """False once the consumer's event loop is gone."""


def _deliver(items: list[tuple[EventSink, QueueItem]]) -> None:
    for sink, item in items:
        sink.queue.put_nowait(item)


class Dispatcher:
    """Collects a step's events and hands them over with one wake-up per event loop."""

    def __init__(self) -> None:
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[EventSink, QueueItem]]] = {}

    def put(self, sink: EventSink, item: QueueItem) -> None:
        if sink.alive:
            self._pending.setdefault(sink.loop, []).append((sink, item))

    def flush(self) -> bool:
        """Deliver what was put; False when some consumer loop is gone (its sinks are
        marked dead)."""
        if not self._pending:
            return True
        pending, self._pending = self._pending, {}
        delivered = True
        for loop, items in pending.items():
            try:
                loop.call_soon_threadsafe(_deliver, items)
            except RuntimeError:  # the consumer's event loop is closed
                delivered = False
                for sink, _ in items:
                    sink.alive = False
        return delivered


@dataclass(eq=False, slots=True)
class Submission:
    """A request handed to the scheduler: prompt tokens and how to sample the rest.

    The fields after ``key`` are the scheduler's bookkeeping once the request is admitted.
    """

    request_id: str
    prompt: list[int]
    sampling: SamplingParams
    max_new_tokens: int
    sink: EventSink
    key: int = field(default_factory=lambda: next(_keys))
    submitted_at: float = field(default_factory=time.perf_counter)
    sequences: list[Sequence] = field(default_factory=list)
    """One per choice, the lead (choice 0) first; forks wait in ``parked`` until the lead
    has read the prompt."""
    parked: list[Sequence] = field(default_factory=list)
    open_choices: int = 0
    reserved_cells: int = 0
    cached_tokens: int = 0
    admitted_at: float = 0.0
    first_token_at: float = 0.0

    @property
    def n(self) -> int:
        return max(1, self.sampling.n)


@dataclass(frozen=True, slots=True)
class Abort:
    """Stop one submission (by key: its consumer is gone) or all with a request id."""

    key: int | None = None
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """End the scheduler thread."""


@dataclass(frozen=True, slots=True)
class ClearPrefixCache:
    """Drop every prefix-cache entry."""


InboxMessage = Submission | Abort | Stop | ClearPrefixCache
"""What reaches the scheduler thread through its inbox."""


@dataclass(eq=False, slots=True)
class Sequence:
    """One choice of a submission being served: it owns a sequence id in the llama context."""

    submission: Submission
    seq_id: int
    sampler: SamplerChain
    choice: int = 0
    reserve_tokens: int = 0
    """Generated tokens whose KV cells the admission reserved (more must be grown)."""
    tokens: list[int] = field(default_factory=list)
    """The tokens whose KV this sequence holds, position by position."""
    detokenizer: IncrementalDetokenizer = field(default_factory=IncrementalDetokenizer)
    prefilled: int = 0
    """Prompt tokens already in the KV cache (copied from the prefix cache or decoded)."""
    pending_token: int | None = None
    """The last sampled token, decoded by the next step."""
    logits_index: int | None = None
    """Where this sequence's logits are in the current batch, when it has some."""
    generated: int = 0
    held_ids: list[int] = field(default_factory=list)
    """Sampled tokens whose text is not complete yet (a character split over tokens)."""
    held_logprobs: list[TokenLogprob] = field(default_factory=list)
    last_token_at: float = 0.0
    done: bool = False
    """Set once the sequence gave its id back (finished, failed or dropped)."""

    @property
    def n_past(self) -> int:
        """Tokens of this sequence in the KV cache (the position of the next one)."""
        return len(self.tokens)

    @property
    def prompt_remaining(self) -> int:
        return len(self.submission.prompt) - self.prefilled
