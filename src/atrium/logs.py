"""Process-wide logging setup (called once by the CLI)."""

from __future__ import annotations

import logging
import sys

from atrium.config import LogLevel


def configure_logging(level: LogLevel) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn's own access log would duplicate atrium.access's structured line.
    logging.getLogger("uvicorn.access").disabled = True
