"""The ``atrium`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from atrium import __version__
from atrium.admin_client import AdminClientError
from atrium.cli_admin import add_admin_commands, run_admin_command
from atrium.config import Settings, load_settings
from atrium.errors import ConfigurationError, StoreUnavailableError
from atrium.models.registry import CATALOG, resolve_model

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
ADMIN_COMMANDS = frozenset({"keys", "deployments", "policies", "usage", "audit"})
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
    serve.add_argument(
        "--chat-template", type=Path, help="Jinja chat template file replacing the model's own"
    )
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
        help="one KV stream per sequence (default; --no-kv-streams: one unified cache)",
    )
    serve.add_argument("--threads", help="CPU threads for the engine")
    serve.add_argument("--batch-size", help="most tokens per engine step")
    serve.add_argument("--log-level", help="debug, info, warning or error")
    serve.add_argument("--log-format", help="text (default) or json")
    serve.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")
    serve.add_argument(
        "--auth",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="require API keys (default on; --no-auth only for local development)",
    )

    commands.add_parser("models", help="list the models of the built-in catalog")
    db = commands.add_parser("db", help="database maintenance")
    db_actions = db.add_subparsers(dest="action", required=True)
    upgrade = db_actions.add_parser("upgrade", help="apply pending migrations")
    upgrade.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in the data dir)")
    upgrade.add_argument("--data-dir", type=Path, help="directory for Atrium's state")
    upgrade.add_argument("--config", type=Path, help="TOML file with settings")
    add_admin_commands(commands)
    return parser


def serve(settings: Settings) -> int:
    import uvicorn

    from atrium.app import build_app
    from atrium.engines.factory import configured_chat_template
    from atrium.logs import configure_logging

    if not settings.auth and settings.host not in LOOPBACK_HOSTS:
        raise ConfigurationError(
            f"--no-auth is for local development and only listens on loopback addresses "
            f"({', '.join(sorted(LOOPBACK_HOSTS))}), not on --host {settings.host}"
        )
    configure_logging(settings.log_level, settings.log_format)
    if settings.engine == "llamacpp":  # fail fast, in one line
        resolve_model(settings.model, settings.served_model_name)
        configured_chat_template(settings)
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # keys, usage, audit
    upgrade_database(settings, quiet=True)  # fail fast, in one line, on a bad database
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


def upgrade_database(settings: Settings, *, quiet: bool = False) -> int:
    from atrium.store.database import Database, describe_url

    db = Database(settings.resolved_database_url)
    try:
        db.upgrade()
        if not quiet:
            print(f"database {describe_url(db.url)} is at revision {db.current_revision()}")
    finally:
        db.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "models":
            return list_catalog()
        if args.command in ADMIN_COMMANDS:
            return run_admin_command(args)
        overrides = {
            key: value for key, value in vars(args).items() if key not in ("command", "action")
        }
        settings = load_settings(**overrides)
        if args.command == "db":
            return upgrade_database(settings)
        return serve(settings)
    except ConfigurationError as exc:
        print(f"atrium: {exc.message}", file=sys.stderr)
        return 2
    except (AdminClientError, StoreUnavailableError) as exc:
        print(f"atrium: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
