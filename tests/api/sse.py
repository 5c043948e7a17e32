"""Parse a server-sent-events body strictly, as OpenAI frames it."""

from __future__ import annotations

import json
from typing import Any


def parse_sse(body: str) -> tuple[list[dict[str, Any]], bool]:
    """The JSON events of ``body`` and whether it ended with ``data: [DONE]``.

    Fails on any frame that is not exactly ``data: <payload>`` followed by a blank line.
    """
    assert body.endswith("\n\n"), f"stream must end with a blank line: {body[-40:]!r}"
    frames = body[:-2].split("\n\n")
    events: list[dict[str, Any]] = []
    done = False
    for frame in frames:
        assert frame.startswith("data: "), f"bad frame {frame!r}"
        assert "\n" not in frame, f"multi-line frame {frame!r}"
        payload = frame.removeprefix("data: ")
        assert not done, "nothing may follow [DONE]"
        if payload == "[DONE]":
            done = True
            continue
        events.append(json.loads(payload))
    return events, done
