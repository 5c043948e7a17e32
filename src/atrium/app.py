"""``build_app(settings)``: the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry
from starlette.types import Scope

from atrium import __version__
from atrium.api import health
from atrium.api.admin import routes as admin_routes
from atrium.api.auth import check_route_rules
from atrium.api.azure import routes as azure_routes
from atrium.api.errors import install_error_handlers
from atrium.api.metrics import RequestMetrics, RuntimeCollector
from atrium.api.metrics import router as metrics_router
from atrium.api.openai import routes as openai_routes
from atrium.api.request_log import RequestLog, RequestLogMiddleware
from atrium.api.state import AppState
from atrium.config import Settings
from atrium.engines.base import Engine
from atrium.engines.factory import create_engine
from atrium.gateway.bootstrap import bootstrap_admin_key, create_default_deployments
from atrium.gateway.clock import utc_now
from atrium.gateway.deployments import DEFAULT_ENGINE, DeploymentService
from atrium.gateway.keys import KeyService
from atrium.gateway.policies import PolicyService
from atrium.gateway.serving import CompletionService
from atrium.gateway.throttle import FailedAuthThrottle
from atrium.gateway.usage import UsageEvent, UsageRecorder
from atrium.safety.classifier import TextClassifier
from atrium.safety.factory import create_classifier, create_guard
from atrium.safety.pipeline import ContentFilter
from atrium.store.database import Database, describe_url

logger = logging.getLogger("atrium")
NO_AUTH_WARNING = (
    "AUTHENTICATION IS OFF (--no-auth): anyone who can reach this port is an admin. "
    "Use this only for local development."
)


def _usage_event(log: RequestLog) -> UsageEvent:
    return UsageEvent(
        created_at=utc_now(),
        request_id=log.request_id,
        key_id=log.key_id,
        deployment=log.deployment,
        model=log.model,
        route=log.route or log.path,
        status=log.status,
        prompt_tokens=log.prompt_tokens or 0,
        completion_tokens=log.completion_tokens or 0,
        cached_tokens=log.cached_tokens or 0,
        latency_ms=log.latency_ms,
        ttft_ms=log.ttft_ms,
        content_filter=",".join(log.content_filtered)[:256] or None,
    )


def _request_finished(scope: Scope, log: RequestLog) -> None:
    state = getattr(scope["app"].state, "atrium", None)
    if not isinstance(state, AppState):  # before the lifespan finished starting
        return
    state.metrics.observe(log)
    if log.metered:
        state.usage.record(_usage_event(log))


async def _open_database(settings: Settings) -> Database:
    db = Database(settings.resolved_database_url)
    started = time.monotonic()
    await asyncio.to_thread(db.upgrade)
    logger.info(
        "database %s ready in %.1fs",
        describe_url(settings.resolved_database_url),
        time.monotonic() - started,
    )
    return db


async def _classifiers(settings: Settings, deployments: DeploymentService) -> list[TextClassifier]:
    classifiers = [await asyncio.to_thread(create_classifier, settings.content_classifier)]
    if settings.safety_guard_deployment is not None:
        loop = asyncio.get_running_loop()
        guard = await asyncio.to_thread(
            create_guard, deployments, settings.safety_guard_deployment, loop
        )
        classifiers.append(guard)
    return classifiers


async def start_state(settings: Settings, engine: Engine, metrics: RequestMetrics) -> AppState:
    """Open the database (migrated), start the engine, bootstrap keys and deployments."""
    db = await _open_database(settings)
    started = time.monotonic()
    try:
        await engine.start()
    except BaseException:
        db.close()
        raise
    models = ", ".join(info.id for info in engine.models())
    logger.info("engine ready in %.1fs serving: %s", time.monotonic() - started, models)
    engines = {DEFAULT_ENGINE: engine}
    keys = KeyService(db)
    deployments = DeploymentService(db, engines)
    if settings.default_deployment:
        await asyncio.to_thread(
            create_default_deployments, deployments, engine, settings.default_content_policy
        )
    if settings.auth:
        await asyncio.to_thread(bootstrap_admin_key, keys, settings.admin_key_path)
    else:
        logger.warning(NO_AUTH_WARNING)
    usage = UsageRecorder(
        db,
        queue_size=settings.usage_queue_size,
        batch_size=settings.usage_batch_size,
        flush_interval_s=settings.usage_flush_interval_s,
    )
    usage.start()
    policies = PolicyService(db)
    content_filter = ContentFilter(await _classifiers(settings, deployments))
    return AppState(
        settings=settings,
        engine=engine,
        engines=engines,
        completions=CompletionService(deployments, policies.settings_of, content_filter),
        started_at=int(time.time()),
        db=db,
        keys=keys,
        deployments=deployments,
        policies=policies,
        content_filter=content_filter,
        usage=usage,
        auth_throttle=FailedAuthThrottle(),
        metrics=metrics,
    )


async def stop_state(state: AppState) -> None:
    """Flush usage, stop the engine, close the database (in that order)."""
    try:
        await state.usage.stop()
    finally:
        await state.engine.stop()
        state.db.close()


def build_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The whole service. ``engine`` replaces the one the settings describe (tests)."""
    registry = CollectorRegistry()
    metrics = RequestMetrics(registry)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chosen = engine if engine is not None else create_engine(settings)
        state = await start_state(settings, chosen, metrics)
        app.state.atrium = state
        try:
            yield
        finally:
            await stop_state(state)

    app = FastAPI(
        title="Atrium",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def current_state() -> AppState | None:
        state = getattr(app.state, "atrium", None)
        return state if isinstance(state, AppState) else None

    registry.register(
        RuntimeCollector(
            engines=lambda: state.engines if (state := current_state()) else {},
            usage=lambda: state.usage if (state := current_state()) else None,
            throttle=lambda: state.auth_throttle if (state := current_state()) else None,
        )
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(openai_routes.router)
    app.include_router(azure_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(metrics_router)
    check_route_rules(app)
    app.add_middleware(
        RequestLogMiddleware, on_finished=_request_finished, azure_region=settings.azure_region
    )
    return app
