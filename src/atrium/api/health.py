"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from atrium.api.state import app_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The engine has loaded its models and takes requests."""
    state = app_state(request)
    health = state.engine.health()
    if not health.ready:
        return JSONResponse({"status": "not_ready", "detail": health.detail}, status_code=503)
    models = [info.id for info in state.engine.models()]
    return JSONResponse({"status": "ready", "models": models})
