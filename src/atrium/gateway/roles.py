"""Roles, what each may do, and the caller of a request (its principal)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from atrium.errors import PermissionDeniedError


class Role(StrEnum):
    ADMIN = "admin"
    CONTRIBUTOR = "contributor"
    USER = "user"
    READER = "reader"


class Permission(StrEnum):
    INFERENCE = "inference"
    DEPLOYMENTS_READ = "deployments:read"
    DEPLOYMENTS_WRITE = "deployments:write"
    POLICIES_WRITE = "policies:write"
    KEYS_MANAGE = "keys:manage"
    USAGE_READ = "usage:read"
    AUDIT_READ = "audit:read"
    METRICS_READ = "metrics:read"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.CONTRIBUTOR: frozenset(
        {
            Permission.INFERENCE,
            Permission.DEPLOYMENTS_READ,
            Permission.DEPLOYMENTS_WRITE,
            Permission.POLICIES_WRITE,
            Permission.USAGE_READ,
            Permission.METRICS_READ,
        }
    ),
    Role.USER: frozenset({Permission.INFERENCE}),
    Role.READER: frozenset(
        {Permission.DEPLOYMENTS_READ, Permission.USAGE_READ, Permission.METRICS_READ}
    ),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an API key (or the local-development pseudo-admin of ``--no-auth``).

    ``deployments`` is the key's scope: ``None`` allows every deployment.
    """

    key_id: str | None
    name: str
    role: Role
    prefix: str
    deployments: frozenset[str] | None = None

    @classmethod
    def no_auth(cls) -> Principal:
        return cls(key_id=None, name="no-auth (local development)", role=Role.ADMIN, prefix="-")

    @property
    def label(self) -> str:
        return f"{self.name} ({self.prefix}…)" if self.key_id else self.name

    def can(self, permission: Permission) -> bool:
        return permission in ROLE_PERMISSIONS[self.role]

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise PermissionDeniedError(
                f"The API key {self.prefix}… has role '{self.role}', which does not allow "
                f"'{permission}'."
            )

    def may_use(self, deployment: str) -> bool:
        return self.deployments is None or deployment in self.deployments

    def require_deployment(self, deployment: str, *, param: str | None = None) -> None:
        if not self.may_use(deployment):
            raise PermissionDeniedError(
                f"The API key {self.prefix}… is not allowed to use deployment '{deployment}'.",
                param=param,
            )
