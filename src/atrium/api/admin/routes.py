"""``/admin``: deployments, content policies, API keys, usage reports and the audit log.

Every change goes through the gateway services, which write the audit event in the same
transaction as the change.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from atrium.api.admin.bodies import (
    DeploymentCreate,
    DeploymentUpdate,
    KeyCreate,
    PolicyCreate,
    PolicyUpdate,
)
from atrium.api.auth import Authorize, actor
from atrium.api.state import app_state
from atrium.errors import InvalidRequestError
from atrium.gateway.audit import list_audit
from atrium.gateway.deployments import DeploymentSpec, deployment_view
from atrium.gateway.keys import IssuedKey, KeySpec, key_view
from atrium.gateway.policies import PolicySpec
from atrium.gateway.roles import Permission, Principal
from atrium.gateway.usage_report import (
    GROUP_FIELDS,
    Granularity,
    GroupField,
    UsageQuery,
    aggregate_usage,
    usage_csv,
)

router = APIRouter(prefix="/admin", tags=["admin"])
READ_DEPLOYMENTS = Depends(Authorize(Permission.DEPLOYMENTS_READ))
WRITE_DEPLOYMENTS = Depends(Authorize(Permission.DEPLOYMENTS_WRITE))
WRITE_POLICIES = Depends(Authorize(Permission.POLICIES_WRITE))
MANAGE_KEYS = Depends(Authorize(Permission.KEYS_MANAGE))
READ_USAGE = Depends(Authorize(Permission.USAGE_READ))
READ_AUDIT = Depends(Authorize(Permission.AUDIT_READ))


def _list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"object": "list", "data": items}


@router.get("/deployments")
async def list_deployments(request: Request, principal: Principal = READ_DEPLOYMENTS) -> Any:
    rows = await app_state(request).deployments.visible(principal)
    return _list([deployment_view(row) for row in rows])


@router.post("/deployments", status_code=201)
async def create_deployment(
    body: DeploymentCreate, request: Request, principal: Principal = WRITE_DEPLOYMENTS
) -> Any:
    spec = DeploymentSpec(**body.model_dump())
    row = await app_state(request).deployments.create(actor(request, principal), spec)
    return deployment_view(row)


@router.get("/deployments/{name}")
async def get_deployment(
    name: str, request: Request, principal: Principal = READ_DEPLOYMENTS
) -> Any:
    return deployment_view(await app_state(request).deployments.get(name, principal))


@router.patch("/deployments/{name}")
async def update_deployment(
    name: str, body: DeploymentUpdate, request: Request, principal: Principal = WRITE_DEPLOYMENTS
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidRequestError("nothing to change: give at least one field")
    service = app_state(request).deployments
    return deployment_view(await service.update(actor(request, principal), name, changes))


@router.delete("/deployments/{name}")
async def delete_deployment(
    name: str, request: Request, principal: Principal = WRITE_DEPLOYMENTS
) -> Any:
    row = await app_state(request).deployments.delete(actor(request, principal), name)
    return {"name": row.name, "deleted": True}


# Content policies are read with the deployments they configure. Stored only for now: no
# request is filtered until the content-filtering pipeline applies them.
@router.get("/policies")
async def list_policies(request: Request, principal: Principal = READ_DEPLOYMENTS) -> Any:
    return _list(await app_state(request).policies.all_policies())


@router.post("/policies", status_code=201)
async def create_policy(
    body: PolicyCreate, request: Request, principal: Principal = WRITE_POLICIES
) -> Any:
    spec = PolicySpec(name=body.name, settings=body.settings, description=body.description)
    return await app_state(request).policies.create(actor(request, principal), spec)


@router.get("/policies/{name}")
async def get_policy(name: str, request: Request, principal: Principal = READ_DEPLOYMENTS) -> Any:
    return await app_state(request).policies.get(name)


@router.patch("/policies/{name}")
async def update_policy(
    name: str, body: PolicyUpdate, request: Request, principal: Principal = WRITE_POLICIES
) -> Any:
    settings = body.settings_changes()
    if body.description is None and not settings:
        raise InvalidRequestError("nothing to change: give description or settings fields")
    return await app_state(request).policies.update(
        actor(request, principal), name, description=body.description, settings=settings
    )


@router.delete("/policies/{name}")
async def delete_policy(name: str, request: Request, principal: Principal = WRITE_POLICIES) -> Any:
    deleted = await app_state(request).policies.delete(actor(request, principal), name)
    return {"name": deleted["name"], "deleted": True}


def _issued(issued: IssuedKey) -> dict[str, Any]:
    return {**key_view(issued.row), "key": issued.secret}


@router.get("/keys")
async def list_keys(request: Request, principal: Principal = MANAGE_KEYS) -> Any:
    return _list([key_view(row) for row in await app_state(request).keys.all_keys()])


@router.post("/keys", status_code=201)
async def create_key(body: KeyCreate, request: Request, principal: Principal = MANAGE_KEYS) -> Any:
    spec = KeySpec(
        name=body.name,
        role=body.role,
        deployments=tuple(body.deployments) if body.deployments is not None else None,
        expires_at=body.expiry(),
    )
    return _issued(await app_state(request).keys.create(actor(request, principal), spec))


@router.get("/keys/{key_id}")
async def get_key(key_id: str, request: Request, principal: Principal = MANAGE_KEYS) -> Any:
    return key_view(await app_state(request).keys.get(key_id))


@router.delete("/keys/{key_id}")
async def revoke_key(key_id: str, request: Request, principal: Principal = MANAGE_KEYS) -> Any:
    return key_view(await app_state(request).keys.revoke(actor(request, principal), key_id))


@router.post("/keys/{key_id}/regenerate")
async def regenerate_key(key_id: str, request: Request, principal: Principal = MANAGE_KEYS) -> Any:
    keys = app_state(request).keys
    return _issued(await keys.regenerate(actor(request, principal), key_id))


def _utc(value: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _group_fields(value: str) -> tuple[GroupField, ...]:
    fields = tuple(part.strip() for part in value.split(",") if part.strip())
    unknown = [name for name in fields if name not in GROUP_FIELDS]
    if unknown:
        raise InvalidRequestError(
            f"cannot group usage by {', '.join(unknown)} (choose from {', '.join(GROUP_FIELDS)})",
            param="group_by",
        )
    return fields  # type: ignore[return-value]


@router.get("/usage", response_model=None)
async def usage_report(
    request: Request,
    *,
    principal: Principal = READ_USAGE,
    group_by: str = "key,deployment,model",
    granularity: Granularity = "day",
    since: datetime | None = None,
    until: datetime | None = None,
    key_id: str | None = None,
    deployment: str | None = None,
    format: Literal["json", "csv"] = "json",
) -> Response:
    query = UsageQuery(
        group_by=_group_fields(group_by),
        granularity=granularity,
        since=_utc(since),
        until=_utc(until),
        key_id=key_id,
        deployment=deployment,
    )
    rows = await app_state(request).db.run(lambda session: aggregate_usage(session, query))
    if format == "csv":
        return PlainTextResponse(usage_csv(rows), media_type="text/csv")
    return JSONResponse(_list(rows))


@router.get("/audit")
async def audit_log(
    request: Request,
    *,
    principal: Principal = READ_AUDIT,
    limit: int = Query(default=100, ge=1, le=1000),
    before_id: int | None = None,
    since: datetime | None = None,
    action: str | None = None,
) -> Any:
    rows = await app_state(request).db.run(
        lambda session: list_audit(
            session, limit=limit, since=_utc(since), action=action, before_id=before_id
        )
    )
    return _list(
        [
            {
                "id": row.id,
                "at": row.at.isoformat(),
                "actor": row.actor,
                "actor_key_id": row.actor_key_id,
                "action": row.action,
                "target_type": row.target_type,
                "target_id": row.target_id,
                "client_ip": row.client_ip,
                "request_id": row.request_id,
                "before": row.before,
                "after": row.after,
            }
            for row in rows
        ]
    )
