"""Aggregated usage: sums of usage records grouped by key, deployment, model and period.

``filtered`` counts the requests the content filter acted on (a prompt refused, a choice
cut); ``content_filter`` groups by what acted (``prompt:jailbreak``, ``completion:violence``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import case, func, select
from sqlalchemy.orm import QueryableAttribute, Session

from atrium.store.schema import ApiKeyRow, UsageRow

GroupField = Literal["key", "deployment", "model", "route", "status", "content_filter"]
Granularity = Literal["hour", "day", "total"]
GROUP_FIELDS: tuple[GroupField, ...] = (
    "key",
    "deployment",
    "model",
    "route",
    "status",
    "content_filter",
)
REPORT_COLUMNS = (
    "period",
    "key_id",
    "key_name",
    "deployment",
    "model",
    "route",
    "status",
    "content_filter",
    "requests",
    "errors",
    "filtered",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "total_tokens",
)


@dataclass(frozen=True, slots=True)
class UsageQuery:
    group_by: tuple[GroupField, ...] = ("key", "deployment", "model")
    granularity: Granularity = "day"
    since: datetime | None = None
    until: datetime | None = None
    key_id: str | None = None
    deployment: str | None = None


def _group_columns(query: UsageQuery) -> list[tuple[str, QueryableAttribute[Any]]]:
    columns: list[tuple[str, QueryableAttribute[Any]]] = []
    if query.granularity == "hour":
        columns.append(("period", UsageRow.period_hour))
    elif query.granularity == "day":
        columns.append(("period", UsageRow.period_day))
    for field_name in query.group_by:
        if field_name == "key":
            columns.append(("key_id", UsageRow.key_id))
            columns.append(("key_name", ApiKeyRow.name))
        else:
            columns.append((field_name, getattr(UsageRow, field_name)))
    return columns


def aggregate_usage(session: Session, query: UsageQuery) -> list[dict[str, Any]]:
    groups = _group_columns(query)
    sums = [
        func.count().label("requests"),
        func.sum(case((UsageRow.status >= 400, 1), else_=0)).label("errors"),
        func.count(UsageRow.content_filter).label("filtered"),
        func.sum(UsageRow.prompt_tokens).label("prompt_tokens"),
        func.sum(UsageRow.completion_tokens).label("completion_tokens"),
        func.sum(UsageRow.cached_tokens).label("cached_tokens"),
    ]
    statement = select(*(column.label(name) for name, column in groups), *sums).select_from(
        UsageRow
    )
    if "key" in query.group_by:
        statement = statement.outerjoin(ApiKeyRow, ApiKeyRow.id == UsageRow.key_id)
    if query.since is not None:
        statement = statement.where(UsageRow.created_at >= query.since)
    if query.until is not None:
        statement = statement.where(UsageRow.created_at < query.until)
    if query.key_id is not None:
        statement = statement.where(UsageRow.key_id == query.key_id)
    if query.deployment is not None:
        statement = statement.where(UsageRow.deployment == query.deployment)
    group_columns = [column for _, column in groups]
    statement = statement.group_by(*group_columns).order_by(*group_columns)
    return [_report_row(row._asdict()) for row in session.execute(statement)]


def _report_row(values: dict[str, Any]) -> dict[str, Any]:
    for name in (
        "requests",
        "errors",
        "filtered",
        "prompt_tokens",
        "completion_tokens",
        "cached_tokens",
    ):
        values[name] = int(values[name] or 0)
    values["total_tokens"] = values["prompt_tokens"] + values["completion_tokens"]
    period = values.get("period")
    if isinstance(period, datetime | date):
        values["period"] = period.isoformat()
    return values


def usage_csv(rows: Sequence[dict[str, Any]]) -> str:
    present = [name for name in REPORT_COLUMNS if any(name in row for row in rows)]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=present or list(REPORT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
