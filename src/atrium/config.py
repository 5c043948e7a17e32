"""One typed settings object, validated at start.

Values come from (highest priority first) command-line flags, ``ATRIUM_*`` environment
variables, and an optional TOML config file (``--config`` / ``ATRIUM_CONFIG``), then
defaults. An invalid value stops the start with a one-line reason.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from atrium.errors import ConfigurationError
from atrium.models.registry import DEFAULT_MODEL

EngineKind = Literal["llamacpp", "fake"]
LogLevel = Literal["debug", "info", "warning", "error"]
LogFormat = Literal["text", "json"]
ClassifierKind = Literal["linear", "fake"]
DATABASE_FILE = "atrium.db"
ADMIN_KEY_FILE = "admin-key"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "atrium"


class Settings(BaseSettings):
    """Everything that can be configured about one Atrium process."""

    model_config = SettingsConfigDict(env_prefix="ATRIUM_", extra="forbid", frozen=True)

    config: Path | None = Field(default=None, description="TOML file with more settings")
    host: str = Field(default="127.0.0.1", min_length=1, description="address to listen on")
    port: int = Field(default=8000, ge=1, le=65535, description="TCP port to listen on")
    model: str = Field(
        default=DEFAULT_MODEL, min_length=1, description="catalog model id or GGUF file path"
    )
    served_model_name: str | None = Field(
        default=None, min_length=1, description="id clients use for the model (default: derived)"
    )
    chat_template: Path | None = Field(
        default=None,
        description="Jinja chat template file used instead of the model's own (a missing or "
        "broken one, or one that knows tools)",
    )
    data_dir: Path = Field(default_factory=default_data_dir, description="where state is kept")
    engine: EngineKind = Field(default="llamacpp", description="llamacpp, or fake for testing")
    context_size: int | None = Field(
        default=None,
        ge=64,
        le=4_194_304,
        description="KV cache tokens in all (default: derived from the model and memory)",
    )
    max_sequence_tokens: int | None = Field(
        default=None,
        ge=64,
        le=1_048_576,
        description="longest prompt + answer of one request (default: the model's)",
    )
    max_sequences: int = Field(
        default=16, ge=1, le=128, description="sequences decoded together in one batch"
    )
    max_waiting: int | None = Field(
        default=None, ge=0, le=100_000, description="requests queued beyond those (then 429)"
    )
    prefill_chunk: int = Field(
        default=256,
        ge=16,
        le=65_536,
        description="most prompt tokens read per step while others decode",
    )
    prefix_cache: bool = Field(default=True, description="reuse the KV of shared prompt prefixes")
    kv_streams: bool = Field(
        default=True,
        description="one KV stream per sequence (default) instead of one unified cache",
    )
    threads: int | None = Field(
        default=None, ge=1, le=1024, description="CPU threads for the engine (default: cores)"
    )
    batch_size: int = Field(
        default=512, ge=16, le=65_536, description="most tokens decoded in one engine step"
    )
    database_url: str | None = Field(
        default=None,
        min_length=1,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://... (default: SQLite in data_dir)",
    )
    auth: bool = Field(default=True, description="require API keys (off only for local dev)")
    default_deployment: bool = Field(
        default=True,
        description="at start, create a deployment named after the model if none serves it",
    )
    usage_queue_size: int = Field(
        default=10_000, ge=1, le=10_000_000, description="usage records held before dropping"
    )
    usage_batch_size: int = Field(
        default=500, ge=1, le=100_000, description="usage records written per batch"
    )
    usage_flush_interval_s: float = Field(
        default=1.0, gt=0, le=3600, description="longest wait before queued usage is written"
    )
    azure_region: str = Field(
        default="local",
        min_length=1,
        max_length=64,
        description="region name in the x-ms-region header of the Azure routes",
    )
    default_content_policy: str | None = Field(
        default="default",
        min_length=1,
        max_length=64,
        description="content policy of the deployment created at start (none: no filtering)",
    )
    content_classifier: ClassifierKind = Field(
        default="linear",
        description="content-filter classifier: linear (the trained default), or fake for testing",
    )
    safety_guard_deployment: str | None = Field(
        default=None,
        min_length=1,
        description="a deployment serving a guard model (e.g. Llama Guard 3) that the content "
        "filter asks too",
    )
    log_level: LogLevel = Field(default="info", description="debug, info, warning or error")
    log_format: LogFormat = Field(default="text", description="text, or json (one object a line)")
    log_prompts: bool = Field(default=False, description="log prompts and completions (PII!)")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / DATABASE_FILE}"

    @property
    def admin_key_path(self) -> Path:
        return self.data_dir / ADMIN_KEY_FILE

    @field_validator("default_content_policy", mode="after")
    @classmethod
    def _no_policy(cls, value: str | None) -> str | None:
        return None if value is not None and value.lower() == "none" else value

    @field_validator("data_dir", "config", "chat_template", mode="after")
    @classmethod
    def _expand_user(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlFileSource(settings_cls))


class TomlFileSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by a higher-priority source's ``config`` value."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        raise NotImplementedError  # __call__ reads the whole file at once

    def __call__(self) -> dict[str, Any]:
        config = self.current_state.get("config")
        if config is None:
            return {}
        path = Path(config).expanduser()
        try:
            with path.open("rb") as handle:
                values = tomllib.load(handle)
        except FileNotFoundError as exc:
            raise ConfigurationError(f"config file not found: {path}") from exc
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigurationError(f"cannot read config file {path}: {exc}") from exc
        return {key.replace("-", "_"): value for key, value in values.items()}


def describe_validation_error(error: ValidationError) -> str:
    """One line naming the first bad setting and why it is bad."""
    first = error.errors()[0]
    name = ".".join(str(part) for part in first["loc"]) or "settings"
    if first["type"] == "extra_forbidden":
        return f"unknown setting {name!r}"
    return f"invalid setting {name!r}: {first['msg']} (got {first.get('input')!r})"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from flags (``overrides``), environment and config file."""
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(exc)) from exc
