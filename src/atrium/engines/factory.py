"""Build the engine the settings ask for."""

from __future__ import annotations

from atrium.config import Settings
from atrium.engines.base import Engine
from atrium.models.registry import resolve_model


def create_engine(settings: Settings) -> Engine:
    if settings.engine == "fake":
        from atrium.engines.fake import FakeEngine

        served = settings.served_model_name or settings.model
        return FakeEngine(model_ids=(served,), context_size=settings.context_size or 8192)
    from atrium.engines.llamacpp import LlamaCppEngine

    source = resolve_model(settings.model, settings.served_model_name)
    return LlamaCppEngine(
        source,
        context_size=settings.context_size,
        threads=settings.threads,
        batch_size=settings.batch_size,
        max_sequences=settings.max_sequences,
        max_waiting=settings.max_waiting,
        prefill_chunk=settings.prefill_chunk,
        max_sequence_tokens=settings.max_sequence_tokens,
        prefix_cache=settings.prefix_cache,
        kv_streams=settings.kv_streams,
    )
