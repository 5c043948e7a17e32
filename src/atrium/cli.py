"""The ``atrium`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from atrium import __version__
from atrium.config import Settings, load_settings
from atrium.errors import ConfigurationError
from atrium.models.registry import CATALOG, resolve_model

# On SIGTERM, running answers get this long to finish before they are cut.
GRACEFUL_SHUTDOWN_S = 10


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atrium", description=__doc__)
    parser.add_argument("--version", action="version", version=f"atrium {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the OpenAI-compatible API")
    serve.add_argument("--config", type=Path, help="TOML file with settings")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", help="TCP port (default 8000)")
    serve.add_argument("--model", help="catalog model id or path to a GGUF file")
    serve.add_argument("--served-model-name", help="model id clients use")
    serve.add_argument("--data-dir", type=Path, help="directory for Atrium's state")
    serve.add_argument("--engine", help="llamacpp (default) or fake")
    serve.add_argument("--context-size", help="KV cache tokens shared by all sequences")
    serve.add_argument("--max-sequence-tokens", help="longest prompt + answer of one request")
    serve.add_argument("--max-sequences", help="sequences decoded together (default 16)")
    serve.add_argument("--max-waiting", help="requests queued beyond those before 429")
    serve.add_argument("--prefill-chunk", help="prompt tokens read per step while others decode")
    serve.add_argument(
        "--prefix-cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="reuse the KV of shared prompt prefixes (default on)",
    )
    serve.add_argument(
        "--kv-streams",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one KV stream per sequence (faster with many sequences, more memory)",
    )
    serve.add_argument("--threads", help="CPU threads for the engine")
    serve.add_argument("--batch-size", help="most tokens per engine step")
    serve.add_argument("--log-level", help="debug, info, warning or error")

    commands.add_parser("models", help="list the models of the built-in catalog")
    return parser


def serve(settings: Settings) -> int:
    import uvicorn

    from atrium.app import build_app
    from atrium.logs import configure_logging

    configure_logging(settings.log_level)
    if settings.engine == "llamacpp":
        resolve_model(settings.model, settings.served_model_name)  # fail fast, one line
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = build_app(settings)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    return 0


def list_catalog() -> int:
    for model_id, model in sorted(CATALOG.items()):
        try:
            where = str(model.locate())
        except ConfigurationError as exc:
            where = f"not installed ({exc.message})"
        print(f"{model_id}\t{where}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models":
            return list_catalog()
        overrides = {key: value for key, value in vars(args).items() if key != "command"}
        return serve(load_settings(**overrides))
    except ConfigurationError as exc:
        print(f"atrium: {exc.message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
