"""The state built once in the app's lifespan and reached from handlers."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from atrium.config import Settings
from atrium.engines.base import Engine
from atrium.gateway.serving import CompletionService


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: Engine
    completions: CompletionService
    started_at: int


def app_state(request: Request) -> AppState:
    state = request.app.state.atrium
    assert isinstance(state, AppState)
    return state
