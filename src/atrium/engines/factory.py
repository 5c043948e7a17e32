"""Build the engine the settings ask for."""

from __future__ import annotations

from pathlib import Path

from atrium.config import Settings
from atrium.engines.base import Engine
from atrium.errors import ConfigurationError
from atrium.models.registry import resolve_model


def read_chat_template(path: Path) -> str:
    """The text of the ``chat_template`` setting's file (a one-line error when unreadable)."""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the chat template file {path}: {exc}") from exc


def configured_chat_template(settings: Settings) -> str | None:
    """The template the ``chat_template`` setting names (None: the model's own); a
    ``ConfigurationError`` when its file cannot be read or does not compile."""
    if settings.chat_template is None:
        return None
    from atrium.engines.llamacpp.template import check_template_source

    source = read_chat_template(settings.chat_template)
    check_template_source(source)
    return source


def create_engine(settings: Settings) -> Engine:
    if settings.engine == "fake":
        from atrium.engines.fake import FakeEngine

        served = settings.served_model_name or settings.model
        return FakeEngine(model_ids=(served,), context_size=settings.context_size or 8192)
    from atrium.engines.llamacpp import LlamaCppEngine

    source = resolve_model(settings.model, settings.served_model_name)
    # LlamaCppEngine checks that the template compiles.
    chat_template = (
        None if settings.chat_template is None else read_chat_template(settings.chat_template)
    )
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
        chat_template=chat_template,
    )
