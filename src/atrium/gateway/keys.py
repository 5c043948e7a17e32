"""API keys: creation, authentication, revocation and regeneration.

A secret is ``atr-`` followed by 256 random bits (43 URL-safe characters). Only its SHA-256
is stored (a high-entropy secret needs no salt or slow hash); lookups go by that hash and
the stored value is compared again with ``hmac.compare_digest``. After creation a key is
shown only by its id and the first characters of the secret (``prefix``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atrium.errors import AuthenticationError, InvalidRequestError, NotFoundError
from atrium.gateway.audit import Actor, record_audit
from atrium.gateway.clock import utc_now
from atrium.gateway.roles import Principal, Role
from atrium.store.database import Database
from atrium.store.schema import ApiKeyRow, DeploymentRow

SECRET_MARK = "atr-"
PREFIX_LENGTH = len(SECRET_MARK) + 8
# A key's last use is written at most this often (not on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def new_secret() -> str:
    return SECRET_MARK + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)


def key_status(row: ApiKeyRow, now: datetime) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "active"


def key_view(row: ApiKeyRow) -> dict[str, Any]:
    """What the API shows of a key (never its secret or hash); also the audit snapshot."""
    return {
        "id": row.id,
        "name": row.name,
        "role": row.role,
        "prefix": row.prefix,
        "deployments": row.deployments,
        "expires_at": _iso(row.expires_at),
        "revoked_at": _iso(row.revoked_at),
        "created_at": _iso(row.created_at),
        "created_by": row.created_by,
        "last_used_at": _iso(row.last_used_at),
        "status": key_status(row, utc_now()),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A key together with its secret: returned once, at creation or regeneration."""

    row: ApiKeyRow
    secret: str


@dataclass(frozen=True, slots=True)
class KeySpec:
    name: str
    role: Role
    deployments: tuple[str, ...] | None = None
    expires_at: datetime | None = None


class KeyService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def create(self, actor: Actor, spec: KeySpec) -> IssuedKey:
        return await self._db.run(lambda session: self._create(session, actor, spec))

    def _create(self, session: Session, actor: Actor | None, spec: KeySpec) -> IssuedKey:
        now = utc_now()
        if spec.expires_at is not None and spec.expires_at <= now:
            raise InvalidRequestError("expires_at must be in the future", param="expires_at")
        if spec.deployments is not None:
            _check_deployments_exist(session, spec.deployments)
        secret = new_secret()
        row = ApiKeyRow(
            id=new_key_id(),
            name=spec.name,
            role=spec.role.value,
            secret_hash=hash_secret(secret),
            prefix=secret[:PREFIX_LENGTH],
            deployments=list(spec.deployments) if spec.deployments is not None else None,
            expires_at=spec.expires_at,
            created_at=now,
            created_by=actor.principal.key_id if actor else None,
        )
        session.add(row)
        if actor is not None:
            record_audit(session, actor, "key.create", ("key", row.id), after=key_view(row))
        return IssuedKey(row, secret)

    async def all_keys(self) -> Sequence[ApiKeyRow]:
        return await self._db.run(
            lambda session: session.scalars(select(ApiKeyRow).order_by(ApiKeyRow.created_at)).all()
        )

    async def get(self, key_id: str) -> ApiKeyRow:
        return await self._db.run(lambda session: _get_key(session, key_id))

    async def revoke(self, actor: Actor, key_id: str) -> ApiKeyRow:
        def revoke(session: Session) -> ApiKeyRow:
            row = _get_key(session, key_id)
            before = key_view(row)
            if row.revoked_at is None:
                row.revoked_at = utc_now()
            record_audit(
                session, actor, "key.revoke", ("key", key_id), before=before, after=key_view(row)
            )
            return row

        return await self._db.run(revoke)

    async def regenerate(self, actor: Actor, key_id: str) -> IssuedKey:
        def regenerate(session: Session) -> IssuedKey:
            row = _get_key(session, key_id)
            if row.revoked_at is not None:
                raise InvalidRequestError(f"key {key_id!r} is revoked; create a new one")
            before = key_view(row)
            secret = new_secret()
            row.secret_hash = hash_secret(secret)
            row.prefix = secret[:PREFIX_LENGTH]
            record_audit(
                session,
                actor,
                "key.regenerate",
                ("key", key_id),
                before=before,
                after=key_view(row),
            )
            return IssuedKey(row, secret)

        return await self._db.run(regenerate)

    async def authenticate(self, secret: str) -> Principal:
        return await self._db.run(lambda session: self._authenticate(session, secret))

    def _authenticate(self, session: Session, secret: str) -> Principal:
        digest = hash_secret(secret)
        row = session.scalars(select(ApiKeyRow).where(ApiKeyRow.secret_hash == digest)).first()
        if row is None or not hmac.compare_digest(row.secret_hash, digest):
            raise AuthenticationError(_incorrect_key_message(secret))
        now = utc_now()
        status = key_status(row, now)
        if status != "active":
            raise AuthenticationError(f"The API key {row.prefix}… is {status}.")
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
            row.last_used_at = now
        return Principal(
            key_id=row.id,
            name=row.name,
            role=Role(row.role),
            prefix=row.prefix,
            deployments=frozenset(row.deployments) if row.deployments is not None else None,
        )

    def bootstrap_admin(self) -> IssuedKey | None:
        """Create the first admin key when there is no key at all (first start)."""

        def bootstrap(session: Session) -> IssuedKey | None:
            if session.scalar(select(func.count()).select_from(ApiKeyRow)):
                return None
            return self._create(session, None, KeySpec(name="bootstrap admin", role=Role.ADMIN))

        return self._db.run_sync(bootstrap)


def _get_key(session: Session, key_id: str) -> ApiKeyRow:
    row = session.get(ApiKeyRow, key_id)
    if row is None:
        raise NotFoundError("key", key_id)
    return row


def _check_deployments_exist(session: Session, names: Sequence[str]) -> None:
    found = set(
        session.scalars(select(DeploymentRow.name).where(DeploymentRow.name.in_(names))).all()
    )
    missing = [name for name in names if name not in found]
    if missing:
        raise InvalidRequestError(
            f"unknown deployment(s) in the key's scope: {', '.join(missing)}",
            param="deployments",
        )


def _incorrect_key_message(secret: str) -> str:
    shown = secret[:PREFIX_LENGTH] if secret.startswith(SECRET_MARK) else secret[:3]
    return (
        f"Incorrect API key provided: {shown}****. You can find your API keys with "
        "`atrium keys list` or ask your Atrium administrator."
    )
