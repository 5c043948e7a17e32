"""The state built once in the app's lifespan and reached from handlers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import Request

from atrium.config import Settings
from atrium.engines.base import Engine
from atrium.gateway.deployments import DeploymentService
from atrium.gateway.keys import KeyService
from atrium.gateway.policies import PolicyService
from atrium.gateway.serving import CompletionService
from atrium.gateway.throttle import FailedAuthThrottle
from atrium.gateway.usage import UsageRecorder
from atrium.safety.pipeline import ContentFilter
from atrium.store.database import Database

if TYPE_CHECKING:  # api.metrics imports this module
    from atrium.api.metrics import RequestMetrics


@dataclass(frozen=True, slots=True)
class AppState:
    settings: Settings
    engine: Engine
    engines: Mapping[str, Engine]
    completions: CompletionService
    started_at: int
    db: Database
    keys: KeyService
    deployments: DeploymentService
    policies: PolicyService
    content_filter: ContentFilter
    usage: UsageRecorder
    auth_throttle: FailedAuthThrottle
    metrics: RequestMetrics


def app_state(request: Request) -> AppState:
    state = request.app.state.atrium
    assert isinstance(state, AppState)
    return state
