"""The audit log: who changed what, when and from where, written with the change itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atrium.gateway.clock import utc_now
from atrium.gateway.roles import Principal
from atrium.store.schema import AuditRow


@dataclass(frozen=True, slots=True)
class Actor:
    """The principal behind an admin action and where the request came from."""

    principal: Principal
    client_ip: str | None = None
    request_id: str | None = None


def record_audit(
    session: Session,
    actor: Actor,
    action: str,
    target: tuple[str, str],
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """Add one audit event to ``session``: it commits (or not) with the change it describes."""
    target_type, target_id = target
    session.add(
        AuditRow(
            at=utc_now(),
            actor_key_id=actor.principal.key_id,
            actor=actor.principal.label,
            action=action,
            target_type=target_type,
            target_id=target_id,
            client_ip=actor.client_ip,
            request_id=actor.request_id,
            before=before,
            after=after,
        )
    )


def list_audit(
    session: Session,
    *,
    limit: int,
    since: datetime | None = None,
    action: str | None = None,
    before_id: int | None = None,
) -> Sequence[AuditRow]:
    """The newest events first; ``before_id`` pages further back."""
    query = select(AuditRow).order_by(AuditRow.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditRow.at >= since)
    if action is not None:
        query = query.where(AuditRow.action == action)
    if before_id is not None:
        query = query.where(AuditRow.id < before_id)
    return session.scalars(query).all()
