"""The scheduler: one thread owns the llama context and runs every generation.

Requests arrive through a thread-safe inbox; events go back to each request's asyncio
queue (``sequence.Dispatcher``: one wake-up per event loop per step). The loop works in
steps (continuous batching): each step builds one batch holding a decode token for every
running sequence, then prefill chunks of the sequences still reading their prompt (FIFO;
at most ``prefill_chunk`` prompt tokens while other sequences are decoding, so a long prompt
delays the running streams by one chunk at most, and never more than ``n_batch`` tokens in
all: a bigger batch aborts the process inside ggml), runs one ``llama_decode``, then samples
(in llama.cpp) for every sequence whose logits the batch produced. Sequences enter and leave
between steps.

Admission is FIFO: the oldest waiting request is admitted when it gets a sequence slot per
choice and its KV cells fit (see ``kv``: prompt plus the completion, evicting prefix-cache
entries as needed); nothing overtakes it. At most ``max_waiting`` requests wait; more are
refused with ``EngineOverloadedError``. Cancelled or aborted requests give their slots and
cells back at the next step.

With ``n > 1`` the prompt is read once by choice 0; its KV is then copied (shared cells) to
the other choices' sequence ids and every choice samples its first token from the same
logits.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass

from atrium.engines.base import SamplingParams
from atrium.engines.llamacpp.kv import KvPool
from atrium.engines.llamacpp.metrics import SchedulerMetrics
from atrium.engines.llamacpp.model import Batch, LlamaModel
from atrium.engines.llamacpp.sampler_chain import SamplerChain
from atrium.engines.llamacpp.sampling import build_sampler, choice_seed
from atrium.engines.llamacpp.sequence import (
    Abort,
    ClearPrefixCache,
    Dispatcher,
    EventSink,
    InboxMessage,
    Sequence,
    Stop,
    Submission,
)
from atrium.engines.llamacpp.stepper import Stepper
from atrium.errors import EngineError, EngineOverloadedError, EngineUnavailableError

logger = logging.getLogger(__name__)


class GenerationAbortedError(EngineError):
    """The generation was stopped by ``Engine.abort`` before it finished."""


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    max_sequences: int
    """Running sequences at most (each choice of a request is one)."""
    max_waiting: int
    """Requests that may wait for admission; more are refused."""
    prefill_chunk: int
    """Prompt tokens per step at most while other sequences are decoding."""
    total_cells: int
    """KV cells shared by all sequences."""
    sequence_tokens: int
    """The most tokens (prompt and completion) one sequence may hold."""
    reserve_cap: int
    """Completion tokens reserved per sequence at admission at most (more grow later)."""
    prefix_cache: bool = True


class Scheduler(Stepper):
    """Runs generations on ``model`` in a background thread (see the module docstring)."""

    def __init__(self, model: LlamaModel, config: SchedulerConfig) -> None:
        pool = KvPool(
            model,
            total_cells=config.total_cells,
            n_ids=model.n_seq_max,
            cache_enabled=config.prefix_cache,
            running_ids=config.max_sequences if model.kv_streams else None,
        )
        super().__init__(model, pool, Dispatcher(), SchedulerMetrics())
        self.config = config
        self._inbox: queue.SimpleQueue[InboxMessage] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._waiting: deque[Submission] = deque()
        self._waiting_count = 0  # waiting + still in the inbox (guarded by _lock)
        self._batch: Batch | None = None
        self._thread = threading.Thread(target=self._run, name="atrium-llamacpp", daemon=True)

    # -- called from any thread ------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def submit(
        self,
        request_id: str,
        prompt: list[int],
        sampling: SamplingParams,
        max_new_tokens: int,
        sink: EventSink,
    ) -> Submission:
        """Queue a generation; its events will arrive in ``sink``. Raises
        ``EngineOverloadedError`` when ``max_waiting`` requests wait already."""
        submission = Submission(request_id, prompt, sampling, max_new_tokens, sink)
        with self._lock:
            if self._closed:
                raise EngineUnavailableError("the llama.cpp engine is stopped")
            if self._waiting_count >= self.config.max_waiting:
                self.metrics.requests_rejected += 1
                raise EngineOverloadedError(
                    f"the engine is busy: {self._waiting_count} requests are waiting",
                    retry_after_s=self._retry_after(),
                )
            self._waiting_count += 1
            self._inbox.put(submission)
        return submission

    def _retry_after(self) -> float:
        per_request = self.metrics.request_time.recent_mean() or 1.0
        rounds = (self._waiting_count + 1) / self.config.max_sequences
        return float(max(1, math.ceil(per_request * rounds)))

    def cancel(self, submission: Submission) -> None:
        """Stop one submission at the next step, without telling its (gone) consumer."""
        self._post(Abort(key=submission.key))

    def abort(self, request_id: str) -> None:
        """Stop every generation with this request id; their consumers get an error."""
        self._post(Abort(request_id=request_id))

    def clear_prefix_cache(self) -> None:
        self._post(ClearPrefixCache())

    def stop(self) -> None:
        """Fail all pending work with ``EngineUnavailableError`` and end the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._inbox.put(Stop())

    def join(self, timeout: float | None = None) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def gauges(self) -> dict[str, float]:
        pool = self.pool
        return {
            "running_sequences": float(self.slots_used),
            "waiting_requests": float(self._waiting_count),
            "max_sequences": float(self.config.max_sequences),
            "kv_cells_total": float(pool.total_cells),
            "kv_cells_used": float(pool.used_cells),
            "kv_cells_cached": float(pool.cached_cells),
            "prefix_cache_entries": float(pool.entries),
            "prefix_cache_evictions_total": float(pool.evictions),
        }

    def _post(self, message: InboxMessage) -> None:
        with self._lock:
            if not self._closed:
                self._inbox.put(message)

    # -- the scheduler thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._batch = self.model.new_batch()
            while self._receive():
                self._admit()
                if self.running:
                    self._guarded_step(self._batch, self.config.prefill_chunk)
                if not self.dispatcher.flush():
                    self._drop_dead_consumers()
        except Exception:
            logger.exception("the llama.cpp scheduler failed; the engine stops serving")
        finally:
            self._shutdown()

    def _receive(self) -> bool:
        """Handle the inbox (waiting for a message when idle); False once told to stop."""
        idle = not self.running and not self._waiting
        try:
            message = self._inbox.get() if idle else self._inbox.get_nowait()
        except queue.Empty:
            return True
        while True:
            if isinstance(message, Stop):
                return False
            if isinstance(message, Submission):
                self._waiting.append(message)
            elif isinstance(message, ClearPrefixCache):
                self.pool.clear()
            else:
                self._handle_abort(message)
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                return True

    def _handle_abort(self, abort: Abort) -> None:
        """Drop the matching submissions; only an abort by request id tells the consumer
        (a cancelled consumer is gone already)."""

        def matches(submission: Submission) -> bool:
            if abort.key is not None:
                return submission.key == abort.key
            return submission.request_id == abort.request_id

        def error() -> BaseException | None:
            if abort.key is not None:
                return None
            return GenerationAbortedError(f"generation {abort.request_id!r} was aborted")

        for submission in [s for s in self._waiting if matches(s)]:
            self._waiting.remove(submission)
            self._left_waiting()
            failure = error()
            if failure is not None:
                self.dispatcher.put(submission.sink, failure)
        for submission in {s.submission for s in self.running if matches(s.submission)}:
            self.drop(submission, error())

    def _left_waiting(self) -> None:
        with self._lock:
            self._waiting_count -= 1

    def _drop_dead_consumers(self) -> None:
        for submission in {s.submission for s in self.running if not s.submission.sink.alive}:
            self.drop(submission, None)

    # -- admission -------------------------------------------------------------------------

    def _admit(self) -> None:
        while self._waiting:
            submission = self._waiting[0]
            if not self._try_admit(submission):
                return
            self._waiting.popleft()
            self._left_waiting()

    def _try_admit(self, submission: Submission) -> bool:
        """Admit ``submission`` when it fits (True also when it failed to start)."""
        n = submission.n
        if self.slots_used + n > self.config.max_sequences or self.pool.available_ids() < n:
            return False
        prompt = submission.prompt
        reserve = min(submission.max_new_tokens, self.config.reserve_cap)
        cells = len(prompt) + n * reserve
        source, shared = self.pool.lookup(prompt) if self.pool.cache_enabled else (None, 0)
        if not self.pool.make_room(cells, keep=source):
            fits = self.pool.make_room(cells)  # the source may go too
            if not self.pool.has_entry(source):
                source, shared = None, 0
            if not fits and self.slots_used > 0:
                return False  # wait for running sequences to finish (FIFO: nothing overtakes)
        ids = self._acquire_ids(n, source, shared)
        if ids is None:
            return False
        samplers = self._build_samplers(submission, ids)
        if samplers is None:
            return True
        if source is not None and source != ids[0]:
            self.pool.copy_prefix(source, ids[0], shared)
        self._start(submission, ids, samplers, reserve=reserve, cells=cells, shared=shared)
        return True

    def _acquire_ids(self, n: int, source: int | None, shared: int) -> list[int] | None:
        """``n`` sequence ids; the first may be the prefix source itself, taken over."""
        ids: list[int] = []
        for _ in range(n):
            seq_id = self.pool.acquire_id(keep=source)
            if seq_id is None and source is not None and not ids:
                self.pool.take_over(source, shared)
                seq_id = source
            if seq_id is None:
                for taken in ids:
                    self.pool.release_id(taken)
                return None
            ids.append(seq_id)
        return ids

    def _build_samplers(self, submission: Submission, ids: list[int]) -> list[SamplerChain] | None:
        samplers: list[SamplerChain] = []
        sampling = submission.sampling
        try:
            for choice in range(len(ids)):
                seed = choice_seed(sampling.seed, choice)
                samplers.append(
                    build_sampler(
                        self.model,
                        sampling,
                        seed=seed,
                        prompt=submission.prompt,
                        window=self.config.sequence_tokens,
                    )
                )
        except EngineError as exc:
            logger.warning("cannot build the sampler of %s: %s", submission.request_id, exc)
            for sampler in samplers:
                sampler.free()
            for seq_id in ids:
                self.pool.release_id(seq_id)
            self.dispatcher.put(submission.sink, EngineError(f"cannot start: {exc}"))
            self.metrics.requests_failed += 1
            return None
        return samplers

    def _start(
        self,
        submission: Submission,
        ids: list[int],
        samplers: list[SamplerChain],
        *,
        reserve: int,
        cells: int,
        shared: int,
    ) -> None:
        now = time.perf_counter()
        for choice, (seq_id, sampler) in enumerate(zip(ids, samplers, strict=True)):
            sequence = Sequence(submission, seq_id, sampler, choice=choice, reserve_tokens=reserve)
            submission.sequences.append(sequence)
            if choice == 0:
                sequence.tokens = submission.prompt[:shared]
                sequence.prefilled = shared
                self.running.append(sequence)
            else:
                submission.parked.append(sequence)
        self.pool.reserve(cells)
        submission.reserved_cells = cells
        submission.cached_tokens = shared
        submission.open_choices = len(ids)
        submission.admitted_at = now
        self.slots_used += len(ids)
        metrics = self.metrics
        metrics.queue_time.add(now - submission.submitted_at)
        metrics.prompt_tokens += len(submission.prompt)
        metrics.computed_prompt_tokens += len(submission.prompt) - shared
        if self.pool.cache_enabled:
            metrics.cache_lookups += 1
            if shared:
                metrics.cache_hits += 1
                metrics.cache_hit_tokens += shared

    # -- shutdown --------------------------------------------------------------------------

    def _shutdown(self) -> None:
        """Fail everything still pending with ``EngineUnavailableError``; free the batch."""
        with self._lock:
            self._closed = True
        for submission in {s.submission for s in self.running}:
            self.drop(submission, _stopped_error())
        while self._waiting:
            self.dispatcher.put(self._waiting.popleft().sink, _stopped_error())
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, Submission):
                self.dispatcher.put(message.sink, _stopped_error())
        self.dispatcher.flush()
        if self._batch is not None:
            self._batch.free()
            self._batch = None


def _stopped_error() -> EngineUnavailableError:
    return EngineUnavailableError("the llama.cpp engine stopped")
