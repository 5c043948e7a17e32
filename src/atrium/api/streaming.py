"""Server-sent events as OpenAI frames them, and cancellation when the client leaves."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from atrium.errors import ClientDisconnectedError

T = TypeVar("T")

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}
DONE_EVENT = b"data: [DONE]\n\n"


def sse_event(payload: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":")).encode("utf-8") + b"\n\n"


async def wait_for_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that stops generating as soon as the client leaves.

    Starlette only notices a disconnect on ASGI 2.4 servers when the next write fails; this
    response always listens for ``http.disconnect`` so the generation is cancelled at once,
    even while the engine is still busy producing the next token.
    """

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        streaming = asyncio.ensure_future(self.stream_response(send))
        listening = asyncio.ensure_future(wait_for_disconnect(receive))
        try:
            await asyncio.wait({streaming, listening}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (streaming, listening):
                task.cancel()
            await asyncio.gather(streaming, listening, return_exceptions=True)
        if streaming.done() and not streaming.cancelled() and streaming.exception():
            raise streaming.exception()  # type: ignore[misc]


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it if the client disconnects first."""
    task = asyncio.ensure_future(work)
    listening = asyncio.ensure_future(wait_for_disconnect(request.receive))
    try:
        await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        listening.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, listening, return_exceptions=True)
    if task.cancelled():
        raise ClientDisconnectedError()
    return task.result()
