"""The database connection and its migrations.

Atrium talks to the database synchronously through SQLAlchemy; request handlers call the
repositories in a worker thread (``Database.run``) so the event loop never waits on I/O.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from atrium.errors import ConfigurationError, ConflictError, StoreUnavailableError
from atrium.store.schema import Base

T = TypeVar("T")
logger = logging.getLogger("atrium.store")
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def describe_url(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable database URL>"


def _sqlite_pragmas(dbapi_connection: object, record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_sql_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigurationError(f"invalid database URL: {describe_url(url)}") from exc
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    try:
        return create_engine(parsed, pool_pre_ping=True, pool_size=10, max_overflow=20)
    except (ArgumentError, ModuleNotFoundError) as exc:
        raise ConfigurationError(f"unsupported database URL {describe_url(url)}: {exc}") from exc


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


class Database:
    """One SQLAlchemy engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_sql_engine(url)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def upgrade(self) -> None:
        """Apply every migration not applied yet (idempotent)."""
        try:
            command.upgrade(alembic_config(self.engine), "head")
        except OperationalError as exc:
            raise StoreUnavailableError(
                f"cannot reach the database {describe_url(self.url)}: {exc.orig}"
            ) from exc

    def current_revision(self) -> str | None:
        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    def head_revision(self) -> str | None:
        return ScriptDirectory.from_config(alembic_config(self.engine)).get_current_head()

    def session(self) -> Session:
        return self.sessions()

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` with a session in a worker thread; commit if it returns."""
        return await asyncio.to_thread(self.run_sync, work)

    def run_sync(self, work: Callable[[Session], T]) -> T:
        try:
            with self.sessions.begin() as session:
                return work(session)
        except OperationalError as exc:
            raise StoreUnavailableError(f"the database is unavailable: {exc.orig}") from exc

    def close(self) -> None:
        self.engine.dispose()


def add_new(session: Session, row: Base, name: str, kind: str) -> None:
    """Insert ``row``, whose primary key is ``name``; ``ConflictError`` (409) when a ``kind``
    of that name exists, also when a concurrent request inserted it first."""
    conflict = ConflictError(f"{kind} {name!r} already exists", param="name")
    if session.get(type(row), name) is not None:
        raise conflict
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise conflict from None
