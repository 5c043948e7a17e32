"""Deployments: the names requests address, each bound to a model of an engine."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium.engines.base import Engine
from atrium.errors import (
    InvalidRequestError,
    ModelNotFoundError,
    NotFoundError,
)
from atrium.gateway.audit import Actor, record_audit
from atrium.gateway.clock import utc_now
from atrium.gateway.roles import Principal
from atrium.safety.policy import DEFAULT_POLICY_NAME
from atrium.store.database import Database, add_new
from atrium.store.schema import ContentPolicyRow, DeploymentRow

DEFAULT_ENGINE = "default"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
NAME_RULE = "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"


def deployment_view(row: DeploymentRow) -> dict[str, Any]:
    return {
        "name": row.name,
        "model": row.model,
        "engine": row.engine,
        "capacity_tpm": row.capacity_tpm,
        "content_policy": row.content_policy,
        "description": row.description,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


@dataclass(frozen=True, slots=True)
class DeploymentSpec:
    name: str
    model: str
    engine: str = DEFAULT_ENGINE
    capacity_tpm: int | None = None
    # Every new deployment is filtered by the built-in policy unless told otherwise (None:
    # no content filtering at all, an operator's explicit choice).
    content_policy: str | None = DEFAULT_POLICY_NAME
    description: str = ""


# Fields a PATCH may change (the name is the identity and never changes).
UPDATABLE_FIELDS = ("model", "engine", "capacity_tpm", "content_policy", "description")


def check_name(name: str) -> None:
    if not NAME_PATTERN.fullmatch(name):
        raise InvalidRequestError(
            f"invalid deployment name {name!r}: use {NAME_RULE}", param="name"
        )


def check_content_policy(session: Session, policy: str | None) -> None:
    """``policy`` must be a stored policy or the built-in ``default`` (or None: no policy)."""
    if policy is None or policy == DEFAULT_POLICY_NAME:
        return
    # FOR KEY SHARE (PostgreSQL): a concurrent delete of the policy waits for this
    # transaction, then sees the deployment that names it.
    lock = {"read": True, "key_share": True}
    if session.get(ContentPolicyRow, policy, with_for_update=lock) is None:
        raise InvalidRequestError(
            f"unknown content policy {policy!r}: name a policy of /admin/policies, or "
            f"{DEFAULT_POLICY_NAME!r} for the built-in one",
            param="content_policy",
        )


class DeploymentService:
    def __init__(self, db: Database, engines: Mapping[str, Engine]) -> None:
        self._db = db
        self._engines = engines

    def engine(self, name: str) -> Engine:
        try:
            return self._engines[name]
        except KeyError:
            raise ModelNotFoundError(name) from None

    def _check_target(self, engine: str, model: str) -> None:
        if engine not in self._engines:
            known = ", ".join(sorted(self._engines))
            raise InvalidRequestError(
                f"unknown engine {engine!r} (engines: {known})", param="engine"
            )
        served = [info.id for info in self._engines[engine].models()]
        if model not in served:
            raise InvalidRequestError(
                f"engine {engine!r} does not serve model {model!r} (it serves: "
                f"{', '.join(served)})",
                param="model",
            )

    async def create(self, actor: Actor, spec: DeploymentSpec) -> DeploymentRow:
        check_name(spec.name)
        self._check_target(spec.engine, spec.model)
        return await self._db.run(lambda session: self._create(session, actor, spec))

    def _create(self, session: Session, actor: Actor, spec: DeploymentSpec) -> DeploymentRow:
        now = utc_now()
        row = DeploymentRow(
            name=spec.name,
            model=spec.model,
            engine=spec.engine,
            capacity_tpm=spec.capacity_tpm,
            content_policy=spec.content_policy,
            description=spec.description,
            created_at=now,
            updated_at=now,
        )
        add_new(session, row, spec.name, "deployment")
        check_content_policy(session, spec.content_policy)  # a bad one rolls the insert back
        record_audit(
            session,
            actor,
            "deployment.create",
            ("deployment", row.name),
            after=deployment_view(row),
        )
        return row

    async def visible(self, principal: Principal) -> Sequence[DeploymentRow]:
        rows = await self._db.run(
            lambda session: session.scalars(
                select(DeploymentRow).order_by(DeploymentRow.name)
            ).all()
        )
        return [row for row in rows if principal.may_use(row.name)]

    async def get(self, name: str, principal: Principal) -> DeploymentRow:
        return await self._db.run(lambda session: self._get_in_scope(session, name, principal))

    async def update(self, actor: Actor, name: str, changes: Mapping[str, Any]) -> DeploymentRow:
        unknown = set(changes) - set(UPDATABLE_FIELDS)
        if unknown:
            raise InvalidRequestError(
                f"cannot change {', '.join(sorted(unknown))} of a deployment", param=min(unknown)
            )

        def update(session: Session) -> DeploymentRow:
            row = self._get_in_scope(session, name, actor.principal)
            before = deployment_view(row)
            self._check_target(changes.get("engine", row.engine), changes.get("model", row.model))
            if "content_policy" in changes:
                check_content_policy(session, changes["content_policy"])
            for field_name, value in changes.items():
                setattr(row, field_name, value)
            row.updated_at = utc_now()
            record_audit(
                session, actor, "deployment.update", ("deployment", name), before=before,
                after=deployment_view(row),
            )  # fmt: skip
            return row

        return await self._db.run(update)

    async def delete(self, actor: Actor, name: str) -> DeploymentRow:
        def delete(session: Session) -> DeploymentRow:
            row = self._get_in_scope(session, name, actor.principal)
            before = deployment_view(row)
            session.delete(row)
            record_audit(session, actor, "deployment.delete", ("deployment", name), before=before)
            return row

        return await self._db.run(delete)

    @staticmethod
    def _get_in_scope(session: Session, name: str, principal: Principal) -> DeploymentRow:
        principal.require_deployment(name)
        row = session.get(DeploymentRow, name)
        if row is None:
            raise NotFoundError("deployment", name)
        return row

    def find(self, name: str) -> DeploymentRow | None:
        """The deployment named ``name`` (blocking: for start-up, not for requests)."""
        return self._db.run_sync(lambda session: session.get(DeploymentRow, name))

    async def resolve(self, name: str, principal: Principal) -> DeploymentRow:
        """The deployment an inference request addresses, if the caller may use it."""
        row = await self._db.run(lambda session: session.get(DeploymentRow, name))
        if row is None:
            raise ModelNotFoundError(name)
        principal.require_deployment(name, param="model")
        return row

    def ensure_defaults(
        self,
        actor: Actor,
        models: Callable[[], Sequence[str]],
        content_policy: str | None = DEFAULT_POLICY_NAME,
    ) -> list[str]:
        """A deployment named after each model of the default engine that none serves yet,
        filtered by ``content_policy``."""

        def create_missing(session: Session) -> list[str]:
            created = []
            served = set(
                session.scalars(
                    select(DeploymentRow.model).where(DeploymentRow.engine == DEFAULT_ENGINE)
                ).all()
            )
            for model in models():
                if model in served or not NAME_PATTERN.fullmatch(model):
                    continue
                if session.get(DeploymentRow, model) is None:
                    spec = DeploymentSpec(name=model, model=model, content_policy=content_policy)
                    self._create(session, actor, spec)
                    created.append(model)
            return created

        return self._db.run_sync(create_missing)
