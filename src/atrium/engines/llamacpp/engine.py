"""``LlamaCppEngine``: the embedded llama.cpp engine behind the ``Engine`` interface.

``generate`` does everything that can fail on the request itself in the caller's task,
before any event (model id, chat template, tokenization, context length); the generation
then runs on the scheduler thread. ``PromptProcessed`` arrives once the prompt has been
decoded (so it also marks the end of prefill), then one ``TokenDelta`` per token (tokens
that end inside a UTF-8 character are held and sent with the one that completes it), then
``GenerationFinished``. The end-of-generation token is neither sent nor counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence

from atrium.engines.base import (
    ChatMessage,
    Engine,
    EngineHealth,
    GenerationEvent,
    GenerationFinished,
    GenerationRequest,
    ModelInfo,
)
from atrium.engines.llamacpp.model import ContextConfig, LlamaModel, default_threads
from atrium.engines.llamacpp.scheduler import Scheduler
from atrium.engines.llamacpp.sequence import EventSink
from atrium.engines.llamacpp.template import ChatTemplate
from atrium.errors import (
    ContextLengthExceededError,
    EngineUnavailableError,
    InvalidRequestError,
    ModelNotFoundError,
)
from atrium.models.registry import ModelSource

logger = logging.getLogger(__name__)


class LlamaCppEngine(Engine):
    """Serves one GGUF model with llama.cpp, in this process."""

    def __init__(
        self,
        source: ModelSource,
        *,
        context_size: int = 8192,
        threads: int | None = None,
        batch_size: int = 512,
    ) -> None:
        if context_size < 1 or batch_size < 1:
            raise ValueError("context_size and batch_size must be positive")
        self._source = source
        self._config = ContextConfig(
            context_size=context_size,
            batch_size=min(batch_size, context_size),
            threads=threads or default_threads(),
        )
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
        self._template = ChatTemplate(
            model.chat_template, bos_token=model.bos_text, eos_token=model.eos_text
        )
        self._scheduler = Scheduler(model, max_sequences=self._config.max_sequences)
        self._scheduler.start()
        self._state = "ready"
        logger.info(
            "llama.cpp engine ready: %s (n_ctx=%d, n_batch=%d, threads=%d)",
            self._source.model_id,
            model.n_ctx,
            model.n_batch,
            self._config.threads,
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
        configured = self._config.context_size
        return configured if self._model is None else min(configured, self._model.n_ctx)

    def models(self) -> Sequence[ModelInfo]:
        return [ModelInfo(id=self._source.model_id, context_size=self.context_size)]

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

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The prompt text the model's chat template makes of ``messages``."""
        if self._template is None:
            raise EngineUnavailableError(f"the llama.cpp engine is {self._state}")
        return self._template.render(messages)

    def prompt_tokens(self, request: GenerationRequest) -> list[int]:
        """The prompt of ``request`` as token ids: the rendered chat, or the raw prompt
        (with the model's BOS when it asks for one, never twice)."""
        model = self._ready_model(request.model)
        if request.messages is not None:
            text = self.render_chat(request.messages)
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

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        prompt = self.prompt_tokens(request)
        limit = self._check_length(request, len(prompt))
        scheduler = self._scheduler
        if scheduler is None:
            raise EngineUnavailableError("the llama.cpp engine is stopped")
        sink = EventSink(asyncio.get_running_loop())
        submission = scheduler.submit(request.request_id, prompt, request.sampling, limit, sink)
        finished = False
        try:
            while True:
                item = await sink.queue.get()
                if isinstance(item, BaseException):
                    finished = True
                    raise item
                if isinstance(item, GenerationFinished):
                    finished = True
                yield item
                if finished:
                    return
        finally:
            if not finished:
                scheduler.cancel(submission)

    async def abort(self, request_id: str) -> None:
        if self._scheduler is not None:
            self._scheduler.abort(request_id)
