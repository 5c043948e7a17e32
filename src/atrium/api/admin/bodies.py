"""Request bodies of the admin API (unknown fields are refused)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from atrium.gateway.deployments import DEFAULT_ENGINE
from atrium.gateway.roles import Role
from atrium.safety.policy import DEFAULT_POLICY_NAME, ContentPolicySettings

MAX_DESCRIPTION = 2000


class StrictBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeploymentCreate(StrictBody):
    name: str = Field(min_length=1, max_length=64)
    model: str = Field(min_length=1, max_length=256)
    engine: str = Field(default=DEFAULT_ENGINE, min_length=1, max_length=64)
    capacity_tpm: int | None = Field(default=None, ge=1, le=10**12)
    # Omitted: the built-in "default" policy; null: no content filtering.
    content_policy: str | None = Field(default=DEFAULT_POLICY_NAME, min_length=1, max_length=64)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class DeploymentUpdate(StrictBody):
    model: str | None = Field(default=None, min_length=1, max_length=256)
    engine: str | None = Field(default=None, min_length=1, max_length=64)
    capacity_tpm: int | None = Field(default=None, ge=1, le=10**12)
    content_policy: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)

    @model_validator(mode="after")
    def _required_stay_set(self) -> DeploymentUpdate:
        for name in ("model", "engine", "description"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class PolicyCreate(StrictBody):
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    settings: ContentPolicySettings = Field(default_factory=ContentPolicySettings)


class PolicyUpdate(StrictBody):
    """``settings`` names the top-level fields to replace; the others are kept."""

    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    settings: ContentPolicySettings | None = None

    @model_validator(mode="after")
    def _not_null(self) -> PolicyUpdate:
        for name in ("description", "settings"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def settings_changes(self) -> dict[str, Any]:
        """The top-level fields of ``settings`` the body gives, validated."""
        if self.settings is None:
            return {}
        return self.settings.model_dump(mode="json", include=self.settings.model_fields_set)


class KeyCreate(StrictBody):
    name: str = Field(min_length=1, max_length=128)
    role: Role
    deployments: list[str] | None = Field(default=None, max_length=1000)
    expires_at: datetime | None = None
    expires_in_days: float | None = Field(default=None, gt=0, le=36500)

    @field_validator("expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z)")
        return value

    @model_validator(mode="after")
    def _one_expiry(self) -> KeyCreate:
        if self.expires_at is not None and self.expires_in_days is not None:
            raise ValueError("give expires_at or expires_in_days, not both")
        return self

    def expiry(self) -> datetime | None:
        if self.expires_in_days is not None:
            return datetime.now(UTC) + timedelta(days=self.expires_in_days)
        return self.expires_at
