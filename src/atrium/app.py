"""``build_app(settings)``: the FastAPI application and its lifespan."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from atrium import __version__
from atrium.api import health
from atrium.api.errors import install_openai_error_handlers
from atrium.api.openai import routes as openai_routes
from atrium.api.request_log import RequestLogMiddleware
from atrium.api.state import AppState
from atrium.config import Settings
from atrium.engines.base import Engine
from atrium.engines.factory import create_engine
from atrium.gateway.serving import CompletionService

logger = logging.getLogger("atrium")


def build_app(settings: Settings, engine: Engine | None = None) -> FastAPI:
    """The whole service. ``engine`` replaces the one the settings describe (tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chosen = engine if engine is not None else create_engine(settings)
        started = time.monotonic()
        await chosen.start()
        models = ", ".join(info.id for info in chosen.models())
        logger.info("engine ready in %.1fs serving: %s", time.monotonic() - started, models)
        app.state.atrium = AppState(
            settings=settings,
            engine=chosen,
            completions=CompletionService(chosen),
            started_at=int(time.time()),
        )
        try:
            yield
        finally:
            await chosen.stop()

    app = FastAPI(title="Atrium", version=__version__, lifespan=lifespan)
    install_openai_error_handlers(app)
    app.include_router(health.router)
    app.include_router(openai_routes.router)
    app.add_middleware(RequestLogMiddleware)
    return app
