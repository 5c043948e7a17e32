"""Content policies, managed like deployments: create, list, read, change, delete.

A deployment names its policy in ``content_policy``; the built-in policy ``default`` (Azure's
default filters) always exists, cannot be changed or deleted, and is what a new deployment
gets unless another policy is chosen. ``gateway.filtering`` applies them to requests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium.errors import ConflictError, InvalidRequestError, NotFoundError
from atrium.gateway.audit import Actor, record_audit
from atrium.gateway.clock import utc_now
from atrium.gateway.deployments import NAME_PATTERN, NAME_RULE
from atrium.safety.policy import (
    DEFAULT_POLICY,
    DEFAULT_POLICY_DESCRIPTION,
    DEFAULT_POLICY_NAME,
    ContentPolicySettings,
)
from atrium.store.database import Database, add_new
from atrium.store.schema import ContentPolicyRow, DeploymentRow


def policy_view(row: ContentPolicyRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "description": row.description,
        "builtin": False,
        "settings": row.settings,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def builtin_view() -> dict[str, Any]:
    return {
        "name": DEFAULT_POLICY_NAME,
        "description": DEFAULT_POLICY_DESCRIPTION,
        "builtin": True,
        "settings": DEFAULT_POLICY.model_dump(mode="json"),
        "created_at": None,
        "updated_at": None,
    }


@dataclass(frozen=True, slots=True)
class PolicySpec:
    name: str
    settings: ContentPolicySettings = field(default_factory=ContentPolicySettings)
    description: str = ""


def refuse_builtin(name: str, doing: str) -> None:
    if name == DEFAULT_POLICY_NAME:
        raise InvalidRequestError(
            f"the built-in policy {DEFAULT_POLICY_NAME!r} cannot be {doing}: create a policy of "
            "your own (its settings start from the same defaults) and name it in the "
            "deployment's content_policy",
            param="name",
        )


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequestError(f"invalid policy name {name!r}: use {NAME_RULE}", param="name")
    if name == DEFAULT_POLICY_NAME:
        raise InvalidRequestError(
            f"the name {DEFAULT_POLICY_NAME!r} belongs to the built-in policy: choose another",
            param="name",
        )


def merged_settings(stored: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """``stored`` with the top-level fields of ``changes`` replaced, validated again."""
    try:
        settings = ContentPolicySettings.model_validate({**stored, **changes})
    except ValidationError as exc:
        raise InvalidRequestError(
            f"the changed settings are not a valid policy: {exc.errors()[0]['msg']}",
            param="settings",
        ) from None
    return settings.model_dump(mode="json")


class PolicyService:
    """Stored content policies and the built-in ``default`` (not enforced yet)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, actor: Actor, spec: PolicySpec) -> dict[str, Any]:
        check_name(spec.name)
        return await self._db.run(lambda session: self._create(session, actor, spec))

    @staticmethod
    def _create(session: Session, actor: Actor, spec: PolicySpec) -> dict[str, Any]:
        now = utc_now()
        row = ContentPolicyRow(
            name=spec.name,
            description=spec.description,
            settings=spec.settings.model_dump(mode="json"),
            created_at=now,
            updated_at=now,
        )
        add_new(session, row, spec.name, "policy")
        view = policy_view(row)
        record_audit(session, actor, "policy.create", ("policy", row.name), after=view)
        return view

    async def all_policies(self) -> list[dict[str, Any]]:
        rows = await self._db.run(
            lambda session: session.scalars(
                select(ContentPolicyRow).order_by(ContentPolicyRow.name)
            ).all()
        )
        return [builtin_view(), *(policy_view(row) for row in rows)]

    async def get(self, name: str) -> dict[str, Any]:
        if name == DEFAULT_POLICY_NAME:
            return builtin_view()
        row = await self._db.run(lambda session: session.get(ContentPolicyRow, name))
        if row is None:
            raise NotFoundError("policy", name)
        return policy_view(row)

    async def settings_of(self, name: str) -> ContentPolicySettings:
        """The settings a deployment naming ``name`` is filtered with."""
        if name == DEFAULT_POLICY_NAME:
            return DEFAULT_POLICY
        row = await self._db.run(lambda session: session.get(ContentPolicyRow, name))
        if row is None:  # deployments cannot name a missing policy; deleted concurrently
            raise NotFoundError("policy", name)
        return ContentPolicySettings.model_validate(row.settings)

    async def update(
        self,
        actor: Actor,
        name: str,
        *,
        description: str | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Change the description and/or top-level fields of the settings (PATCH)."""
        refuse_builtin(name, "changed")

        def update(session: Session) -> dict[str, Any]:
            row = self._get(session, name)
            before = policy_view(row)
            if settings:
                row.settings = merged_settings(row.settings, settings)
            if description is not None:
                row.description = description
            row.updated_at = utc_now()
            after = policy_view(row)
            record_audit(
                session, actor, "policy.update", ("policy", name), before=before, after=after
            )
            return after

        return await self._db.run(update)

    async def delete(self, actor: Actor, name: str) -> dict[str, Any]:
        """Delete a policy no deployment names (409 naming those that do)."""
        refuse_builtin(name, "deleted")

        def delete(session: Session) -> dict[str, Any]:
            # Locked first: a deployment naming it concurrently (which takes a share lock on
            # this row) either commits before the check below or finds the policy gone.
            row = self._get(session, name, lock=True)
            users = session.scalars(
                select(DeploymentRow.name)
                .where(DeploymentRow.content_policy == name)
                .order_by(DeploymentRow.name)
            ).all()
            if users:
                raise ConflictError(
                    f"policy {name!r} is used by deployment(s) {', '.join(users)}: give them "
                    "another content_policy first"
                )
            before = policy_view(row)
            session.delete(row)
            record_audit(session, actor, "policy.delete", ("policy", name), before=before)
            return before

        return await self._db.run(delete)

    @staticmethod
    def _get(session: Session, name: str, *, lock: bool = False) -> ContentPolicyRow:
        row = session.get(ContentPolicyRow, name, with_for_update=lock or None)
        if row is None:
            raise NotFoundError("policy", name)
        return row
