"""The classifiers the content filter uses, chosen by the settings."""

from __future__ import annotations

import asyncio

from atrium.config import ClassifierKind
from atrium.errors import ConfigurationError
from atrium.gateway.deployments import DeploymentService
from atrium.safety.classifier import TextClassifier
from atrium.safety.fake import FakeClassifier
from atrium.safety.guard import GuardClassifier


def create_classifier(kind: ClassifierKind) -> TextClassifier:
    if kind == "fake":
        return FakeClassifier()
    from atrium.safety.linear import LinearClassifier  # loads the trained weights

    return LinearClassifier()


def create_guard(
    deployments: DeploymentService, name: str, loop: asyncio.AbstractEventLoop
) -> GuardClassifier:
    """The guard-model classifier asking the model of deployment ``name``."""
    row = deployments.find(name)
    if row is None:
        raise ConfigurationError(
            f"safety_guard_deployment names deployment {name!r}, which does not exist: "
            "create it (atrium deployments create) or unset the setting"
        )
    return GuardClassifier(deployments.engine(row.engine), row.model, loop)
