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
from dataclasses import asdict, dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SCOPE_KEY = "atrium.request_log"
REQUEST_ID_HEADER = "x-request-id"
MAX_CLIENT_REQUEST_ID = 128

access_logger = logging.getLogger("atrium.access")


@dataclass
class RequestLog:
    """What one request did; handlers fill in the model and token counts."""

    request_id: str
    method: str
    path: str
    status: int = 0
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    finish_reason: str | None = None
    latency_ms: float = 0.0
    client_disconnected: bool = False


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
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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
        started = time.perf_counter()
        response_finished = False

        async def send_with_request_id(message: Message) -> None:
            nonlocal response_finished
            if message["type"] == "http.response.start":
                log.status = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = log.request_id
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
            access_logger.info(json.dumps(asdict(log), separators=(",", ":")))
