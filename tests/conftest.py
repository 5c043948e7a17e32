"""Databases for the tests: every store and API test runs on SQLite and on PostgreSQL.

PostgreSQL is the server on 127.0.0.1:5432 (trust auth, database ``test``; override with
``ATRIUM_TEST_POSTGRES_URL``). Each test gets its own schema, dropped afterwards. When no
server answers the PostgreSQL variants are skipped with a loud reason, unless
``ATRIUM_REQUIRE_POSTGRES=1`` (set by ``.ci/run``, which starts one) makes that a failure.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

POSTGRES_URL = os.environ.get(
    "ATRIUM_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
DATABASES = ("sqlite", "postgresql")


@cache
def postgres_problem() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0]


def require_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    message = (
        f"!!! PostgreSQL at {POSTGRES_URL} is unreachable ({problem}): the PostgreSQL half "
        "of the store and API tests did NOT run. Start PostgreSQL (.ci/run does) or set "
        "ATRIUM_TEST_POSTGRES_URL."
    )
    if os.environ.get("ATRIUM_REQUIRE_POSTGRES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A SQLAlchemy URL on a fresh PostgreSQL schema of its own."""
    require_postgres()
    schema = f"atrium_test_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    base = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    separator = "&" if "?" in base else "?"
    try:
        yield f"{base}{separator}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as connection:
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=DATABASES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'atrium-test.db'}"
