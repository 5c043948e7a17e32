"""The scheduler: one thread owns the llama context and runs every generation.

Requests arrive through a thread-safe inbox; events go back to each request's asyncio
queue through ``loop.call_soon_threadsafe``. The loop works in steps: each step builds one
batch (a decode token for every running sequence that has one, then prefill chunks of the
sequences still reading their prompt, never more than ``n_batch`` tokens in all — a bigger
batch aborts the process inside ggml), runs one ``llama_decode``, then samples for every
sequence whose logits the batch produced. Sequences enter and leave between steps.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque

from atrium.engines.base import (
    FinishReason,
    GenerationFinished,
    PromptProcessed,
    SamplingParams,
    TokenDelta,
)
from atrium.engines.llamacpp.model import Batch, LlamaModel
from atrium.engines.llamacpp.sampling import build_sampler
from atrium.engines.llamacpp.sequence import (
    Abort,
    EventSink,
    InboxMessage,
    Sequence,
    Stop,
    Submission,
)
from atrium.errors import EngineError, EngineUnavailableError

logger = logging.getLogger(__name__)


class GenerationAbortedError(EngineError):
    """The generation was stopped by ``Engine.abort`` before it finished."""


class Scheduler:
    """Runs generations on ``model`` in a background thread (see the module docstring)."""

    def __init__(self, model: LlamaModel, *, max_sequences: int = 1) -> None:
        self._model = model
        self._max_sequences = min(max_sequences, model.n_seq_max)
        self._inbox: queue.SimpleQueue[InboxMessage] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._waiting: deque[Submission] = deque()
        self._running: list[Sequence] = []
        self._free_seq_ids = list(range(self._max_sequences))
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
        """Queue a generation; its events will arrive in ``sink``."""
        submission = Submission(request_id, prompt, sampling, max_new_tokens, sink)
        with self._lock:
            if self._closed:
                raise EngineUnavailableError("the llama.cpp engine is stopped")
            self._inbox.put(submission)
        return submission

    def cancel(self, submission: Submission) -> None:
        """Stop one submission at the next step, without telling its (gone) consumer."""
        self._post(Abort(key=submission.key))

    def abort(self, request_id: str) -> None:
        """Stop every generation with this request id; their consumers get an error."""
        self._post(Abort(request_id=request_id))

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

    def _post(self, message: InboxMessage) -> None:
        with self._lock:
            if not self._closed:
                self._inbox.put(message)

    # -- the scheduler thread --------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._batch = self._model.new_batch()
            while self._receive():
                self._admit()
                if self._running:
                    self._guarded_step()
        except Exception:
            logger.exception("the llama.cpp scheduler failed; the engine stops serving")
        finally:
            self._shutdown()

    def _receive(self) -> bool:
        """Handle the inbox (waiting for a message when idle); False once told to stop."""
        idle = not self._running and not self._waiting
        try:
            message = self._inbox.get() if idle else self._inbox.get_nowait()
        except queue.Empty:
            return True
        while True:
            if isinstance(message, Stop):
                return False
            if isinstance(message, Submission):
                self._waiting.append(message)
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

        def notify(submission: Submission) -> None:
            if abort.key is None:
                submission.sink.put(
                    GenerationAbortedError(f"generation {abort.request_id!r} was aborted")
                )

        for submission in [s for s in self._waiting if matches(s)]:
            self._waiting.remove(submission)
            notify(submission)
        for sequence in [s for s in self._running if matches(s.submission)]:
            self._release(sequence)
            notify(sequence.submission)

    def _admit(self) -> None:
        while self._waiting and self._free_seq_ids:
            submission = self._waiting.popleft()
            try:
                sampler = build_sampler(self._model, submission.sampling)
            except Exception as exc:
                logger.exception("cannot build the sampler of %s", submission.request_id)
                submission.sink.put(EngineError(f"cannot start the generation: {exc}"))
                continue
            seq_id = self._free_seq_ids.pop()
            self._running.append(Sequence(submission, seq_id, sampler))

    def _guarded_step(self) -> None:
        try:
            self._step()
        except Exception as exc:
            logger.exception("llama.cpp step failed; failing the sequences it held")
            for sequence in list(self._running):
                self._fail(sequence, EngineError(f"the llama.cpp engine failed: {exc}"))

    def _step(self) -> None:
        batched = self._fill_batch()
        assert self._batch is not None
        status = self._model.decode(self._batch)
        if status != 0:
            for sequence in batched:
                self._fail(sequence, EngineError(f"llama_decode failed with status {status}"))
            return
        for sequence in batched:
            if sequence.logits_index is not None:
                self._advance_guarded(sequence)

    def _fill_batch(self) -> list[Sequence]:
        """Put a decode token for each generating sequence, then prefill chunks, in the batch."""
        batch = self._batch
        assert batch is not None
        batch.clear()
        batched: list[Sequence] = []
        for sequence in self._running:
            if sequence.pending_token is not None:
                sequence.logits_index = batch.add(
                    sequence.pending_token, sequence.n_past, sequence.seq_id, logits=True
                )
                sequence.pending_token = None
                sequence.n_past += 1
                batched.append(sequence)
        for sequence in self._running:
            room = batch.capacity - len(batch)
            if sequence.prompt_remaining > 0 and room > 0:
                self._add_prefill(batch, sequence, room)
                batched.append(sequence)
        return batched

    def _add_prefill(self, batch: Batch, sequence: Sequence, room: int) -> None:
        prompt = sequence.submission.prompt
        end = min(len(prompt), sequence.prefilled + room)
        for position in range(sequence.prefilled, end):
            last = position == len(prompt) - 1
            index = batch.add(prompt[position], sequence.n_past, sequence.seq_id, logits=last)
            sequence.n_past += 1
            if last:
                sequence.logits_index = index
        sequence.prefilled = end

    def _advance_guarded(self, sequence: Sequence) -> None:
        try:
            self._advance(sequence)
        except Exception as exc:
            logger.exception("generation %s failed", sequence.submission.request_id)
            self._fail(sequence, EngineError(f"the generation failed: {exc}"))

    def _advance(self, sequence: Sequence) -> None:
        """Sample the next token of ``sequence`` from this step's logits and send it on."""
        index = sequence.logits_index
        assert index is not None
        sequence.logits_index = None
        submission = sequence.submission
        if sequence.generated == 0:  # the prompt has just been read
            self._send(sequence, PromptProcessed(prompt_tokens=len(submission.prompt)))
            if sequence not in self._running:
                return
        token = self._model.sample(sequence.sampler, index)
        if self._model.is_eog(token):
            self._finish(sequence, "stop")
            return
        sequence.generated += 1
        sequence.held_ids.append(token)
        text = sequence.detokenizer.feed(self._model.piece(token))
        if text:
            self._send(sequence, TokenDelta(text=text, token_ids=tuple(sequence.held_ids)))
            sequence.held_ids.clear()
            if sequence not in self._running:
                return
        if sequence.generated >= submission.max_new_tokens:
            self._finish(sequence, "length")
        else:
            sequence.pending_token = token

    def _send(self, sequence: Sequence, event: PromptProcessed | TokenDelta) -> None:
        if not sequence.submission.sink.put(event):
            self._release(sequence)  # nobody is listening any more

    def _finish(self, sequence: Sequence, reason: FinishReason) -> None:
        tail = sequence.detokenizer.flush()
        submission = sequence.submission
        if tail or sequence.held_ids:
            submission.sink.put(TokenDelta(text=tail, token_ids=tuple(sequence.held_ids)))
            sequence.held_ids.clear()
        submission.sink.put(
            GenerationFinished(
                finish_reason=reason,
                prompt_tokens=len(submission.prompt),
                completion_tokens=sequence.generated,
            )
        )
        self._release(sequence)

    def _fail(self, sequence: Sequence, error: BaseException) -> None:
        sequence.submission.sink.put(error)
        self._release(sequence)

    def _release(self, sequence: Sequence) -> None:
        """Free the sequence's sampler, KV cells and sequence id (idempotent)."""
        if sequence not in self._running:
            return
        self._running.remove(sequence)
        sequence.sampler.free()
        self._model.clear_sequence(sequence.seq_id)
        self._free_seq_ids.append(sequence.seq_id)

    def _shutdown(self) -> None:
        """Fail everything still pending with ``EngineUnavailableError``; free the batch."""
        with self._lock:
            self._closed = True
        for sequence in list(self._running):
            self._fail(sequence, _stopped_error())
        while self._waiting:
            self._waiting.popleft().sink.put(_stopped_error())
        while True:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(message, Submission):
                message.sink.put(_stopped_error())
        if self._batch is not None:
            self._batch.free()
            self._batch = None


def _stopped_error() -> EngineUnavailableError:
    return EngineUnavailableError("the llama.cpp engine stopped")
