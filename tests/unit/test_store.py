"""Migrations on SQLite and PostgreSQL: from empty, idempotent, matching the models."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from atrium.errors import StoreUnavailableError
from atrium.store.database import Database
from atrium.store.schema import Base, DeploymentRow


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.close()


def test_upgrade_from_empty_creates_every_table(db: Database) -> None:
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables


def deployment_row(name: str, moment: datetime) -> DeploymentRow:
    return DeploymentRow(
        name=name, model="m", engine="default", description="", created_at=moment,
        updated_at=moment,
    )  # fmt: skip


def test_upgrade_is_idempotent_and_keeps_data(db: Database) -> None:
    db.upgrade()
    db.run_sync(lambda s: s.add(deployment_row("kept", datetime.now(UTC))))
    db.upgrade()
    names = db.run_sync(lambda s: s.scalars(select(DeploymentRow.name)).all())
    assert names == ["kept"]


def test_migrations_match_the_models(db: Database) -> None:
    db.upgrade()
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_datetimes_come_back_aware_utc(db: Database) -> None:
    db.upgrade()
    moment = datetime(2026, 11, 29, 12, 0, tzinfo=UTC) + timedelta(microseconds=5)
    db.run_sync(lambda s: s.add(deployment_row("t", moment)))
    row = db.run_sync(lambda s: s.get(DeploymentRow, "t"))
    assert row is not None
    assert row.created_at == moment
    assert row.created_at.tzinfo is not None


def test_unreachable_database_is_a_typed_error() -> None:
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreUnavailableError, match="cannot reach the database"):
        db.upgrade()
    db.close()
