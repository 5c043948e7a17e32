"""``LlamaCppEngine``: the embedded llama.cpp engine behind the ``Engine`` interface.

``generate`` does everything that can fail on the request itself in the caller's task,
before any event (model id, chat template, tokenization, context length); the generation
then runs on the scheduler thread, batched with the others. ``PromptProcessed`` arrives
once the prompt has been decoded (so it also marks the end of prefill; ``cached_tokens``
of it came from the prefix cache), then one ``TokenDelta`` per token (tokens that end inside
a UTF-8 character are held and sent with the one that completes it), then
``GenerationFinished``; with ``n`` choices, their deltas interleave and each ends with its
own ``GenerationFinished``. The end-of-generation token is neither sent nor counted.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncGenerator, Mapping, Sequence

from atrium.engines.base import (
    ChatMessage,
    Engine,
    EngineHealth,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
    SamplingParams,
    ToolDefinition,
)
from atrium.engines.llamacpp.logprobs import MAX_TOP_LOGPROBS
from atrium.engines.llamacpp.model import ContextConfig, LlamaModel, default_threads
from atrium.engines.llamacpp.scheduler import Scheduler, SchedulerConfig
from atrium.engines.llamacpp.sequence import EventSink
from atrium.engines.llamacpp.template import ChatTemplate, check_template_source
from atrium.errors import (
    ContextLengthExceededError,
    EngineUnavailableError,
    InvalidRequestError,
    ModelNotFoundError,
)
from atrium.models.registry import ModelSource

logger = logging.getLogger(__name__)


DEFAULT_STREAM_TOKENS = 4096
"""Per-request KV with ``kv_streams`` when neither the total nor the per-request size is set
(then shrunk to fit ``default_kv_budget()``)."""
KV_BUDGET_CAP = 4 * 1024**3
KV_BUDGET_SHARE = 0.25


def default_kv_budget() -> int:
    """A quarter of the machine's memory, at most 4 GiB, for the KV cache by default."""
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        return KV_BUDGET_CAP
    return min(KV_BUDGET_CAP, int(physical * KV_BUDGET_SHARE))


class LlamaCppEngine(Engine):
    """Serves one GGUF model with llama.cpp, in this process (continuous batching).

    ``context_size`` is the KV cache shared by all sequences (default: 1024 tokens per
    sequence slot, at least 8192); one request may use ``max_sequence_tokens`` of it (default:
    the model's training context, at most ``context_size``). ``max_sequences`` sequences run
    at once (a request with ``n`` choices takes ``n``), ``max_waiting`` requests may wait
    (default: four per sequence slot; more get ``EngineOverloadedError``), and a step reads
    at most ``prefill_chunk`` prompt tokens while other sequences are decoding. The prefix
    cache keeps up to ``prefix_cache_entries`` finished sequences (default: ``max_sequences``).
    ``chat_template`` (Jinja source) replaces the GGUF's own template (a missing or broken
    one, or one that knows tools; it must compile); the template decides the model's tool
    format (``ModelInfo.tool_format``).
    """

    def __init__(
        self,
        source: ModelSource,
        *,
        context_size: int | None = None,
        threads: int | None = None,
        batch_size: int = 512,
        max_sequences: int = 16,
        max_waiting: int | None = None,
        prefill_chunk: int = 256,
        max_sequence_tokens: int | None = None,
        prefix_cache: bool = True,
        prefix_cache_entries: int | None = None,
        kv_streams: bool = False,
        chat_template: str | None = None,
    ) -> None:
        if chat_template is not None:
            check_template_source(chat_template)
        if max_sequences < 1 or not 1 <= max_sequences + (prefix_cache_entries or 0) <= 256:
            raise ValueError("max_sequences (plus prefix_cache_entries) must be in [1, 256]")
        entries = max_sequences if prefix_cache_entries is None else prefix_cache_entries
        n_ids = min(256, max_sequences + (entries if prefix_cache else 0))
        kv_budget = None
        if kv_streams:  # every id gets a stream of the per-request size
            if max_sequence_tokens is None and context_size is None:
                kv_budget = default_kv_budget()
            per_stream = max_sequence_tokens or (
                context_size // n_ids if context_size else DEFAULT_STREAM_TOKENS
            )
            context_size = per_stream * n_ids
        elif context_size is None:
            context_size = max(8192, 1024 * max_sequences)
        if context_size < 1 or batch_size < 1 or prefill_chunk < 1:
            raise ValueError("context_size, batch_size and prefill_chunk must be positive")
        if max_waiting is not None and max_waiting < 0:
            raise ValueError("max_waiting must not be negative")
        self._source = source
        self._config = ContextConfig(
            context_size=context_size,
            batch_size=max(min(batch_size, context_size), max_sequences),
            threads=threads or default_threads(),
            max_sequences=n_ids,
            kv_streams=kv_streams,
            kv_budget_bytes=kv_budget,
        )
        self._max_sequences = max_sequences
        self._max_waiting = 4 * max_sequences if max_waiting is None else max_waiting
        self._prefill_chunk = prefill_chunk
        self._max_sequence_tokens = max_sequence_tokens
        self._prefix_cache = prefix_cache
        self._chat_template = chat_template
        self._model: LlamaModel | None = None
        self._template: ChatTemplate | None = None
        self._scheduler: Scheduler | None = None
        self._state = "not started"

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        if self._state != "not started":
            return
        self._state = "loading"
        try:
            model = await asyncio.to_thread(LlamaModel, self._source.path, self._config)
        except BaseException:
            self._state = "failed"
            raise
        if self._state != "loading":  # stop() was called while the model was loading
            model.close()
            raise EngineUnavailableError("the llama.cpp engine was stopped while loading")
        self._model = model
        source = model.chat_template if self._chat_template is None else self._chat_template
        self._template = ChatTemplate(source, bos_token=model.bos_text, eos_token=model.eos_text)
        total = min(self._config.context_size, model.n_ctx)
        self._scheduler = Scheduler(
            model,
            SchedulerConfig(
                max_sequences=self._max_sequences,
                max_waiting=self._max_waiting,
                prefill_chunk=min(self._prefill_chunk, model.n_batch),
                total_cells=total,
                sequence_tokens=self.context_size,
                reserve_cap=max(1, total // self._max_sequences),
                prefix_cache=self._prefix_cache,
            ),
        )
        self._scheduler.start()
        self._state = "ready"
        layout = (
            f"{model.n_seq_max} KV streams of {model.n_ctx_seq} tokens"
            if model.kv_streams
            else f"one KV cache of {model.n_ctx} tokens"
        )
        logger.info(
            "llama.cpp engine ready: %s (%d sequences, %s, n_batch=%d, threads=%d, %s chat "
            "template, tool format %s)",
            self._source.model_id,
            self._max_sequences,
            layout,
            model.n_batch,
            self._config.threads,
            "the GGUF's" if self._chat_template is None else "a configured",
            self._template.tool_format,
        )

    async def stop(self) -> None:
        scheduler, model = self._scheduler, self._model
        self._scheduler = None
        self._model = None
        if self._state in ("ready", "loading"):
            self._state = "stopped"
        if scheduler is not None:
            scheduler.stop()
            await asyncio.to_thread(scheduler.join)
        if model is not None:
            model.close()

    # -- introspection -------------------------------------------------------------------

    @property
    def context_size(self) -> int:
        """The most tokens (prompt and completion) one sequence may hold."""
        limit = self._config.context_size
        if self._model is not None:
            limit = min(limit, self._model.n_ctx_seq, self._model.n_ctx_train)
        if self._max_sequence_tokens is not None:
            limit = min(limit, self._max_sequence_tokens)
        return limit

    @property
    def kv_streams(self) -> bool:
        return self._config.kv_streams

    def metrics(self) -> Mapping[str, float]:
        scheduler = self._scheduler
        if scheduler is None:
            return {}
        return {**scheduler.metrics.snapshot(), **scheduler.gauges()}

    def clear_prefix_cache(self) -> None:
        """Drop every prefix-cache entry (before the next request is admitted)."""
        if self._scheduler is not None:
            self._scheduler.clear_prefix_cache()

    def models(self) -> Sequence[ModelInfo]:
        tool_format = self._template.tool_format if self._template is not None else "envelope"
        return [
            ModelInfo(
                id=self._source.model_id, context_size=self.context_size, tool_format=tool_format
            )
        ]

    def health(self) -> EngineHealth:
        scheduler = self._scheduler
        if self._state != "ready":
            return EngineHealth(ready=False, detail=f"the llama.cpp engine is {self._state}")
        if scheduler is None or not scheduler.alive:
            return EngineHealth(ready=False, detail="the llama.cpp scheduler has stopped")
        return EngineHealth(ready=True, detail="ready")

    async def count_tokens(self, model: str, text: str) -> int:
        loaded = self._ready_model(model)
        return len(loaded.tokenize(text, add_special=False, parse_special=True))

    # -- generation ----------------------------------------------------------------------

    def _ready_model(self, model: str) -> LlamaModel:
        if model != self._source.model_id:
            raise ModelNotFoundError(model)
        if self._model is None or self._state != "ready":
            raise EngineUnavailableError(f"the llama.cpp engine is {self._state}")
        return self._model

    def render_chat(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolDefinition] = ()
    ) -> str:
        """The prompt text the model's chat template makes of ``messages`` and ``tools``."""
        if self._template is None:
            raise EngineUnavailableError(f"the llama.cpp engine is {self._state}")
        return self._template.render(messages, tools=tools)

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The prompt of ``request`` as token ids: the rendered chat, or the raw prompt
        (with the model's BOS when it asks for one, never twice)."""
        model = self._ready_model(request.model)
        if request.messages is not None:
            text = self.render_chat(request.messages, request.tools)
        else:
            text = request.prompt or ""
        tokens = model.tokenize(text, add_special=False, parse_special=True)
        if model.add_bos and model.bos_id is not None and tokens[:1] != [model.bos_id]:
            tokens.insert(0, model.bos_id)
        if not tokens:  # an empty raw prompt: start from the document boundary, as OpenAI does
            start = model.bos_id if model.bos_id is not None else model.eos_id
            if start is None:
                raise InvalidRequestError("the prompt is empty", param="prompt")
            tokens.append(start)
        return tokens

    def _check_length(self, request: GenerationRequest, prompt_tokens: int) -> int:
        """How many tokens may be generated; raises when the request cannot fit."""
        context_size = self.context_size
        max_tokens = request.sampling.max_tokens
        if prompt_tokens >= context_size or (
            max_tokens is not None and prompt_tokens + max_tokens > context_size
        ):
            raise ContextLengthExceededError(
                context_size=context_size,
                prompt_tokens=prompt_tokens,
                max_tokens=max_tokens,
                param="messages" if request.messages is not None else "prompt",
            )
        room = context_size - prompt_tokens
        return room if max_tokens is None else min(max_tokens, room)

    def _check_sampling(self, sampling: SamplingParams, model: LlamaModel) -> None:
        if not 1 <= sampling.n <= self._max_sequences:
            raise InvalidRequestError(
                f"n must be between 1 and {self._max_sequences} on this engine", param="n"
            )
        for token, _ in sampling.logit_bias:
            if not 0 <= token < model.n_vocab:
                raise InvalidRequestError(
                    f"logit_bias: token id {token} is not in this model's vocabulary "
                    f"(0 to {model.n_vocab - 1})",
                    param="logit_bias",
                )
        if not 0 <= sampling.top_logprobs <= MAX_TOP_LOGPROBS:
            raise InvalidRequestError(
                f"top_logprobs must be between 0 and {MAX_TOP_LOGPROBS}", param="top_logprobs"
            )

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        prompt = self.prompt_tokens(request)
        model = self._ready_model(request.model)
        self._check_sampling(request.sampling, model)
        limit = self._check_length(request, len(prompt))
        scheduler = self._scheduler
        if scheduler is None:
            raise EngineUnavailableError("the llama.cpp engine is stopped")
        sink = EventSink(asyncio.get_running_loop())
        submission = scheduler.submit(request.request_id, prompt, request.sampling, limit, sink)
        open_choices = max(1, request.sampling.n)
        try:
            while open_choices:
                item = await sink.queue.get()
                if isinstance(item, BaseException):
                    open_choices = 0
                    raise item
                if isinstance(item, GenerationFinished):
                    open_choices -= 1
                yield item
        finally:
            if open_choices:
                scheduler.cancel(submission)

    async def abort(self, request_id: str) -> None:
        if self._scheduler is not None:
            self._scheduler.abort(request_id)
