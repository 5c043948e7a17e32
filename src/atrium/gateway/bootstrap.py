"""What happens at start on top of migrations: the first admin key, default deployments."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from atrium.engines.base import Engine
from atrium.gateway.audit import Actor
from atrium.gateway.deployments import DeploymentService
from atrium.gateway.keys import KeyService
from atrium.gateway.roles import Principal, Role

logger = logging.getLogger("atrium")
SYSTEM_ACTOR = Actor(Principal(key_id=None, name="atrium (start-up)", role=Role.ADMIN, prefix="-"))


def write_secret_file(path: Path, secret: str) -> None:
    """Write ``secret`` to ``path`` with mode 0600 (never readable by others, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def bootstrap_admin_key(keys: KeyService, key_path: Path) -> bool:
    """On an empty database: create an admin key, print it once and keep it in ``key_path``."""
    issued = keys.bootstrap_admin()
    if issued is None:
        return False
    write_secret_file(key_path, issued.secret)
    # Printed, not logged: the secret must never reach a log pipeline.
    print(
        "\n"
        "  Atrium created the first admin API key (shown only this once):\n\n"
        f"      {issued.secret}\n\n"
        f"  It is also saved, readable only by you, in {key_path}\n",
        file=sys.stderr,
        flush=True,
    )
    logger.info("created the first admin key %s (%s…)", issued.row.id, issued.row.prefix)
    return True


def create_default_deployments(
    deployments: DeploymentService, engine: Engine, content_policy: str | None
) -> None:
    created = deployments.ensure_defaults(
        SYSTEM_ACTOR, lambda: [info.id for info in engine.models()], content_policy
    )
    for name in created:
        logger.info("created deployment %r for model %r", name, name)
