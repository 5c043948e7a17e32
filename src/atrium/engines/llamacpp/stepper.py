"""One scheduler step: fill the batch, decode it, sample, emit events, finish sequences.

``Stepper`` is the part of the scheduler that runs admitted sequences; ``scheduler`` adds
the thread, the inbox and admission. Everything here runs on the scheduler thread.
"""

from __future__ import annotations

import logging
import time

from atrium.engines.base import FinishReason, GenerationFinished, PromptProcessed, TokenDelta
from atrium.engines.llamacpp.kv import KvPool
from atrium.engines.llamacpp.logprobs import MAX_TOP_LOGPROBS, token_logprob
from atrium.engines.llamacpp.metrics import SchedulerMetrics
from atrium.engines.llamacpp.model import Batch, LlamaModel
from atrium.engines.llamacpp.sequence import Dispatcher, Sequence, Submission
from atrium.errors import EngineError

logger = logging.getLogger(__name__)

_KV_FULL = 1
"""``llama_decode``'s status when the KV cache has no room for the batch (nothing changed)."""


class Stepper:
    """Runs the admitted sequences, one batch per step."""

    def __init__(
        self,
        model: LlamaModel,
        pool: KvPool,
        dispatcher: Dispatcher,
        metrics: SchedulerMetrics,
    ) -> None:
        self.model = model
        self.pool = pool
        self.dispatcher = dispatcher
        self.metrics = metrics
        self.running: list[Sequence] = []
        """Sequences in the KV cache, in admission order (parked forks are not here)."""
        self.slots_used = 0
        """Sequence slots held by admitted requests (one per choice, parked ones too)."""

    # -- a step ----------------------------------------------------------------------------

    def _guarded_step(self, batch: Batch, prefill_chunk: int) -> None:
        try:
            self._step(batch, prefill_chunk)
        except Exception as exc:
            logger.exception("llama.cpp step failed; failing the sequences it held")
            failure = EngineError(f"the llama.cpp engine failed: {exc}")
            for submission in {s.submission for s in self.running}:
                self.drop(submission, failure)

    def _step(self, batch: Batch, prefill_chunk: int) -> None:
        batched = self._fill_batch(batch, prefill_chunk)
        status = self.model.decode(batch)
        if status == _KV_FULL and self.pool.entries:
            self.pool.clear()  # the accounting is an upper bound: this should not happen
            status = self.model.decode(batch)
        if status != 0:
            failure = EngineError(f"llama_decode failed with status {status}")
            for submission in {s.submission for s in batched}:
                self.drop(submission, failure)
            return
        self.metrics.steps += 1
        self.metrics.batch_tokens += len(batch)
        now = time.perf_counter()
        for sequence in batched:
            if sequence.logits_index is not None and not sequence.done:
                self._advance_guarded(sequence, now)

    def _fill_batch(self, batch: Batch, prefill_chunk: int) -> list[Sequence]:
        """A decode token for each generating sequence, and prefill chunks given out FIFO
        (at most ``prefill_chunk`` tokens while others decode). Tokens go into the batch in
        sequence-id order: with one KV stream per sequence, llama.cpp splits a batch at every
        break in that order."""
        batch.clear()
        decoding = [s for s in self.running if s.pending_token is not None]
        room = batch.capacity - len(decoding)
        if decoding:
            room = min(room, prefill_chunk)
        prefill: dict[int, int] = {}  # seq_id -> prompt tokens to read this step
        for sequence in self.running:
            if room <= 0:
                break
            if sequence.prompt_remaining > 0:
                prefill[sequence.seq_id] = min(room, sequence.prompt_remaining)
                room -= prefill[sequence.seq_id]
        batched = [*decoding, *(s for s in self.running if s.seq_id in prefill)]
        batched.sort(key=lambda s: s.seq_id)
        for sequence in batched:
            token = sequence.pending_token
            if token is None:
                self._add_prefill(batch, sequence, prefill[sequence.seq_id])
                continue
            sequence.logits_index = batch.add(
                token, len(sequence.tokens), sequence.seq_id, logits=True
            )
            sequence.tokens.append(token)
            sequence.pending_token = None
        return batched

    @staticmethod
    def _add_prefill(batch: Batch, sequence: Sequence, room: int) -> int:
        prompt = sequence.submission.prompt
        start = sequence.prefilled
        end = min(len(prompt), start + room)
        last = len(prompt) - 1
        seq_id = sequence.seq_id
        for position in range(start, end):
            index = batch.add(prompt[position], position, seq_id, logits=position == last)
            if position == last:
                sequence.logits_index = index
        sequence.tokens.extend(prompt[start:end])
        sequence.prefilled = end
        return end - start

    # -- after the decode --------------------------------------------------------------------

    def _advance_guarded(self, sequence: Sequence, now: float) -> None:
        try:
            self._advance(sequence, now)
        except Exception as exc:
            logger.exception("generation %s failed", sequence.submission.request_id)
            self.drop(sequence.submission, EngineError(f"the generation failed: {exc}"))

    def _advance(self, sequence: Sequence, now: float) -> None:
        """Sample the next token of ``sequence`` (and, right after the prompt, of the other
        choices) from this step's logits and send it on."""
        index = sequence.logits_index
        assert index is not None
        sequence.logits_index = None
        submission = sequence.submission
        if sequence.generated == 0 and sequence.choice == 0:  # the prompt has just been read
            self.dispatcher.put(
                submission.sink,
                PromptProcessed(
                    prompt_tokens=len(submission.prompt), cached_tokens=submission.cached_tokens
                ),
            )
            self.metrics.ttft.add(now - submission.submitted_at)
            forks = self._fork(sequence)
            self._emit(sequence, index, now)
            for fork in forks:
                self._emit(fork, index, now)
            return
        self._emit(sequence, index, now)

    def _fork(self, lead: Sequence) -> list[Sequence]:
        """Give the parked choices the lead's prompt KV (shared cells); start them."""
        submission = lead.submission
        forks, submission.parked = submission.parked, []
        for fork in forks:
            self.pool.copy_prefix(lead.seq_id, fork.seq_id, len(lead.tokens))
            fork.tokens = list(lead.tokens)
            fork.prefilled = lead.prefilled
            self.running.append(fork)
        return forks

    def _emit(self, sequence: Sequence, index: int, now: float) -> None:
        """Sample one token of ``sequence`` at batch ``index``; send its text on."""
        model = self.model
        submission = sequence.submission
        sampling = submission.sampling
        logits = model.logits(index).copy() if sampling.logprobs else None
        token = model.sample(sequence.sampler, index)
        if sequence.last_token_at:
            self.metrics.inter_token.add(now - sequence.last_token_at)
        sequence.last_token_at = now
        if model.is_eog(token):
            self._finish(sequence, "stop")
            return
        sequence.generated += 1
        self.metrics.generated_tokens += 1
        sequence.held_ids.append(token)
        if logits is not None:
            top = min(max(sampling.top_logprobs, 0), MAX_TOP_LOGPROBS)
            sequence.held_logprobs.append(token_logprob(logits, token, top, model.piece))
        text = sequence.detokenizer.feed(model.piece(token))
        if text:
            self._send_held(sequence, text)
        if sequence.generated >= submission.max_new_tokens or not self._grow(sequence):
            self._finish(sequence, "length")
        else:
            sequence.pending_token = token

    def _send_held(self, sequence: Sequence, text: str) -> None:
        self.dispatcher.put(
            sequence.submission.sink,
            TokenDelta(
                text=text,
                token_ids=tuple(sequence.held_ids),
                choice=sequence.choice,
                logprobs=tuple(sequence.held_logprobs),
            ),
        )
        sequence.held_ids.clear()
        sequence.held_logprobs.clear()

    def _grow(self, sequence: Sequence) -> bool:
        """Make sure the KV has a cell for the token just sampled; False when it cannot."""
        if sequence.generated <= sequence.reserve_tokens:
            return True
        if not self.pool.make_room(1):
            return False
        self.pool.reserve(1)
        sequence.submission.reserved_cells += 1
        return True

    # -- the end of a sequence ---------------------------------------------------------------

    def _finish(self, sequence: Sequence, reason: FinishReason) -> None:
        tail = sequence.detokenizer.flush()
        submission = sequence.submission
        if tail or sequence.held_ids:
            self._send_held(sequence, tail)
        self.dispatcher.put(
            submission.sink,
            GenerationFinished(
                finish_reason=reason,
                prompt_tokens=len(submission.prompt),
                completion_tokens=sequence.generated,
                choice=sequence.choice,
                cached_tokens=submission.cached_tokens,
            ),
        )
        self._end(sequence, keep_kv=True)

    def _end(self, sequence: Sequence, *, keep_kv: bool) -> None:
        """Give back the sequence's sampler, slot and id (its KV goes to the prefix cache
        when ``keep_kv``); the last choice of a request gives back its reserved cells."""
        if sequence.done:
            return
        sequence.done = True
        if sequence in self.running:
            self.running.remove(sequence)
        sequence.sampler.free()
        self.slots_used -= 1
        if keep_kv:
            self.pool.store(sequence.seq_id, sequence.tokens)
        else:
            self.pool.release_id(sequence.seq_id)
        submission = sequence.submission
        submission.open_choices -= 1
        if submission.open_choices == 0:
            self.pool.unreserve(submission.reserved_cells)
            submission.reserved_cells = 0
        if submission.open_choices == 0 and keep_kv:
            self.metrics.requests_finished += 1
            self.metrics.request_time.add(time.perf_counter() - submission.submitted_at)

    def drop(self, submission: Submission, error: BaseException | None) -> None:
        """End every choice of ``submission`` now, freeing its KV; ``error`` (if any) ends
        the consumer's stream."""
        submission.parked.clear()
        for sequence in submission.sequences:
            self._end(sequence, keep_kv=False)
        if error is not None:
            self.metrics.requests_failed += 1
            self.dispatcher.put(submission.sink, error)
