"""Authentication and authorization at the HTTP edge.

Every route declares what it needs with ``Depends(Authorize(permission))``; the few public
routes are listed in ``PUBLIC_PATHS``. ``check_route_rules`` refuses to build an app with a
route that has neither, and the role-by-route test is generated from the same table.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute

from atrium.api.request_log import request_log
from atrium.api.state import app_state
from atrium.errors import AuthenticationError, MissingApiKeyError
from atrium.gateway.audit import Actor
from atrium.gateway.roles import Permission, Principal

PUBLIC_PATHS = frozenset({"/healthz", "/readyz"})
PRINCIPAL_KEY = "atrium.principal"


def presented_key(request: Request) -> str | None:
    """The key of ``Authorization: Bearer KEY`` or of ``api-key: KEY`` (Azure's header)."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    api_key = request.headers.get("api-key", "").strip()
    return api_key or None


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def authenticate(request: Request) -> Principal:
    cached = request.scope.get(PRINCIPAL_KEY)
    if isinstance(cached, Principal):
        return cached
    state = app_state(request)
    if not state.settings.auth:
        principal = Principal.no_auth()
    else:
        secret = presented_key(request)
        try:
            if secret is None:
                raise MissingApiKeyError()
            principal = await state.keys.authenticate(secret)
        except AuthenticationError:
            delay = state.auth_throttle.failure(client_address(request))
            if delay:
                await asyncio.sleep(delay)
            raise
    request.scope[PRINCIPAL_KEY] = principal
    request_log(request).key_id = principal.key_id
    return principal


class Authorize:
    """A FastAPI dependency: authenticate the caller and require ``permission``.

    ``metered`` routes (generations) leave a usage record for every authorized request,
    whatever its outcome.
    """

    def __init__(self, permission: Permission, *, metered: bool = False) -> None:
        self.permission = permission
        self.metered = metered

    async def __call__(self, request: Request) -> Principal:
        principal = await authenticate(request)
        principal.require(self.permission)
        if self.metered:
            request_log(request).metered = True
        return principal


def actor(request: Request, principal: Principal) -> Actor:
    return Actor(principal, client_address(request), request_log(request).request_id)


def route_permission(route: APIRoute) -> Permission | None:
    """The permission a route's ``Authorize`` dependency requires, if it has one."""
    for dependency in route.dependant.dependencies:
        if isinstance(dependency.call, Authorize):
            return dependency.call.permission
    return None


@dataclass(frozen=True, slots=True)
class ServedRoute:
    """An API route as the app serves it: ``path`` includes any ``include_router`` prefix."""

    path: str
    methods: frozenset[str]
    route: APIRoute


def served_routes(app: FastAPI) -> list[ServedRoute]:
    """Every API route of ``app``, those of included routers too.

    Since FastAPI 0.137 ``app.routes`` holds one node per included router instead of copies
    of its routes; ``iter_route_contexts`` (0.137.2+) expands them.
    """
    expand = getattr(fastapi.routing, "iter_route_contexts", None)
    if expand is None:  # an older FastAPI: app.routes is flat
        return [
            ServedRoute(route.path, frozenset(route.methods or ()), route)
            for route in app.routes
            if isinstance(route, APIRoute)
        ]
    return [
        ServedRoute(
            context.path or context.original_route.path,
            frozenset(context.methods or context.original_route.methods or ()),
            context.original_route,
        )
        for context in expand(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def check_route_rules(app: FastAPI) -> None:
    """Every route is public by name or requires a permission; anything else is a bug."""
    for served in served_routes(app):
        if served.path not in PUBLIC_PATHS and route_permission(served.route) is None:
            raise RuntimeError(f"route {served.path} has no authorization rule")
