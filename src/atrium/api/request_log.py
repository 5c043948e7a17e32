"""One structured log line per request, and the request id every response carries.

A pure ASGI middleware, so that streamed responses are logged when their last byte has
been sent (or the client went away), with the token counts the handler recorded. Prompts
and completions are never part of this line.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from atrium.safety.results import FilterResults

SCOPE_KEY = "atrium.request_log"
REQUEST_ID_HEADER = "x-request-id"
APIM_REQUEST_ID_HEADER = "apim-request-id"
REGION_HEADER = "x-ms-region"
AZURE_PATH_PREFIX = "/openai/"
MAX_CLIENT_REQUEST_ID = 128

access_logger = logging.getLogger("atrium.access")


@dataclass
class RequestLog:
    """What one request did; handlers fill in the model and token counts."""

    request_id: str
    method: str
    path: str
    status: int = 0
    key_id: str | None = None
    deployment: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    client_disconnected: bool = False
    # What the content filter refused or cut, as "direction:check" ("prompt:jailbreak").
    content_filtered: list[str] = field(default_factory=list)
    # Every finding, filtered or only annotated, as (direction, check, outcome) for metrics.
    filter_findings: list[tuple[str, str, str]] = field(default_factory=list, repr=False)
    # Not logged: whether the request counts as metered usage, the route template, timing.
    metered: bool = field(default=False, repr=False)
    route: str | None = field(default=None, repr=False)
    started: float = field(default_factory=time.perf_counter, repr=False)

    def mark_first_token(self) -> None:
        if self.ttft_ms is None:
            self.ttft_ms = round((time.perf_counter() - self.started) * 1000, 1)

    def record_filter_results(self, direction: str, results: FilterResults) -> None:
        """Count what the content filter found in a prompt or a completion window."""
        for label in results.filtered_labels():
            entry = f"{direction}:{label}"
            if entry not in self.content_filtered:
                self.content_filtered.append(entry)
        self.filter_findings.extend((direction, *finding) for finding in results.findings())

    def line(self) -> str:
        values = asdict(self)
        for hidden in ("metered", "route", "started", "filter_findings"):
            del values[hidden]
        return json.dumps(values, separators=(",", ":"))


RequestFinished = Callable[[Scope, RequestLog], None]


def request_log(request: Request) -> RequestLog:
    log = request.scope.get(SCOPE_KEY)
    if not isinstance(log, RequestLog):  # a request that did not pass the middleware
        log = RequestLog(request_id=new_request_id(), method=request.method, path="")
        request.scope[SCOPE_KEY] = log
    return log


def new_request_id() -> str:
    return uuid.uuid4().hex


def client_request_id(scope: Scope) -> str | None:
    value = Headers(scope=scope).get(REQUEST_ID_HEADER, "").strip()
    if value and len(value) <= MAX_CLIENT_REQUEST_ID and value.isprintable():
        return value
    return None


class RequestLogMiddleware:
    """Logs each request and hands its record to ``on_finished`` (usage, metrics)."""

    def __init__(
        self,
        app: ASGIApp,
        on_finished: RequestFinished | None = None,
        azure_region: str = "local",
    ) -> None:
        self.app = app
        self.on_finished = on_finished
        self.azure_region = azure_region

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        log = RequestLog(
            request_id=client_request_id(scope) or new_request_id(),
            method=scope["method"],
            path=scope["path"],
        )
        scope[SCOPE_KEY] = log
        started = log.started
        response_finished = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_finished
            if message["type"] == "http.response.start":
                log.status = message["status"]
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = log.request_id
                if log.path.startswith(AZURE_PATH_PREFIX):  # as Azure OpenAI's gateway sends
                    headers[APIM_REQUEST_ID_HEADER] = log.request_id
                    headers[REGION_HEADER] = self.azure_region
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                response_finished = True
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException:
            if not log.status:  # the error handler outside this middleware answers 500
                log.status = 500
            raise
        finally:
            log.client_disconnected = not response_finished
            log.latency_ms = round((time.perf_counter() - started) * 1000, 1)
            route = scope.get("route")
            log.route = getattr(route, "path", None)
            access_logger.info(log.line())
            if self.on_finished is not None:
                self.on_finished(scope, log)
