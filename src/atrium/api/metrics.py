"""``GET /metrics``: Prometheus metrics of one app (its own registry, never a global one)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from atrium.api.auth import Authorize
from atrium.api.request_log import RequestLog
from atrium.api.state import app_state
from atrium.engines.base import Engine
from atrium.gateway.roles import Permission
from atrium.gateway.throttle import FailedAuthThrottle
from atrium.gateway.usage import UsageRecorder

router = APIRouter(tags=["observability"])
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32, 64)
UNMATCHED_ROUTE = "unmatched"


def metric_name(engine_metric: str) -> str:
    return "atrium_engine_" + re.sub(r"[^a-zA-Z0-9_]", "_", engine_metric)


class RuntimeCollector(Collector):
    """Read at scrape time: engine gauges, the usage queue, the auth throttle."""

    def __init__(
        self,
        engines: Callable[[], Mapping[str, Engine]],
        usage: Callable[[], UsageRecorder | None],
        throttle: Callable[[], FailedAuthThrottle | None],
    ) -> None:
        self._engines = engines
        self._usage = usage
        self._throttle = throttle

    def collect(self) -> Iterator[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for engine_name, engine in self._engines().items():
            for name, value in engine.metrics().items():
                family = families.get(name)
                if family is None:
                    family = GaugeMetricFamily(
                        metric_name(name), f"engine metric {name}", labels=["engine"]
                    )
                    families[name] = family
                family.add_metric([engine_name], float(value))
        yield from families.values()
        usage = self._usage()
        if usage is not None:
            yield GaugeMetricFamily(
                "atrium_usage_queue_depth", "usage records waiting to be written", usage.depth
            )
            counters = usage.counters
            for name, value, text in (
                ("written", counters.written, "usage records written"),
                ("dropped", counters.dropped, "usage records dropped (queue full)"),
                ("write_failures", counters.failed_writes, "failed usage batch writes"),
            ):
                yield CounterMetricFamily(f"atrium_usage_records_{name}", text, value)
        throttle = self._throttle()
        if throttle is not None:
            yield CounterMetricFamily(
                "atrium_auth_failures_delayed", "failed authentications answered late",
                throttle.delayed,
            )  # fmt: skip


class RequestMetrics:
    """Counters and histograms fed by every finished request."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "atrium_requests", "HTTP requests", ["route", "deployment", "status"],
            registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "atrium_request_duration_seconds", "time to the last byte of the answer",
            ["route"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.ttft = Histogram(
            "atrium_time_to_first_token_seconds", "time to the first streamed token",
            ["deployment"], buckets=TTFT_BUCKETS, registry=registry,
        )  # fmt: skip
        self.tokens = Counter(
            "atrium_tokens", "tokens processed", ["deployment", "kind"], registry=registry
        )
        self.content_filter = Counter(
            "atrium_content_filter_results",
            "content-filter findings (outcome: filtered, annotated, redacted or error)",
            ["deployment", "direction", "category", "outcome"], registry=registry,
        )  # fmt: skip

    def observe(self, log: RequestLog) -> None:
        route = log.route or UNMATCHED_ROUTE
        deployment = log.deployment or ""
        self.requests.labels(route, deployment, str(log.status)).inc()
        self.latency.labels(route).observe(log.latency_ms / 1000)
        if log.ttft_ms is not None:
            self.ttft.labels(deployment).observe(log.ttft_ms / 1000)
        for kind, count in (
            ("prompt", log.prompt_tokens),
            ("completion", log.completion_tokens),
            ("cached", log.cached_tokens),
        ):
            if count:
                self.tokens.labels(deployment, kind).inc(count)
        for direction, category, outcome in log.filter_findings:
            self.content_filter.labels(deployment, direction, category, outcome).inc()


@router.get("/metrics", response_class=Response)
async def metrics(
    request: Request, _: object = Depends(Authorize(Permission.METRICS_READ))
) -> Response:
    registry = app_state(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
