"""Turn request-validation failures into Atrium's typed errors (dialect-neutral)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from atrium.errors import (
    AtriumError,
    InvalidRequestError,
    MalformedBodyError,
    MissingParameterError,
    UnknownParameterError,
)

FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
# Pydantic names the member of a union that failed inside ``loc``; those are not fields.
UNION_MEMBER_TAGS = frozenset({"str", "int", "float", "bool", "list", "dict", "none"})
# Where FastAPI says a value came from: the first element of ``loc``, not a parameter name.
REQUEST_PARTS = frozenset({"body", "query", "path", "header", "cookie"})
NOT_AN_OBJECT = frozenset({"model_attributes_type", "dict_type", "model_type"})
# Longest echo of the offending value in a message (a blocklist can hold 10,000 terms).
MAX_ECHOED_CHARS = 200


def param_path(loc: Sequence[int | str]) -> str:
    """``("body", "messages", 0, "content", "str")`` → ``"messages[0].content"``;
    ``("query", "since")`` → ``"since"``."""
    parts = list(loc[1:]) if loc and loc[0] in REQUEST_PARTS else list(loc)
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif FIELD_NAME.match(part) and part not in UNION_MEMBER_TAGS:
            path += f".{part}" if path else part
        else:
            break
    return path


def echoed(value: Any) -> str:
    """``repr(value)``, cut short when long."""
    text = repr(value)
    return text if len(text) <= MAX_ECHOED_CHARS else f"{text[:MAX_ECHOED_CHARS]}..."


def error_from_validation(errors: Sequence[dict[str, Any]]) -> AtriumError:
    """The one error to report for a failed validation: the first problem, clearly."""
    first = errors[0]
    kind = first.get("type", "")
    param = param_path(first.get("loc", ()))
    if kind == "json_invalid":
        return MalformedBodyError(
            "We could not parse the JSON body of your request. The API expects a JSON "
            "payload, but what was sent was not valid JSON."
        )
    if not param and (kind in NOT_AN_OBJECT or kind == "missing"):
        return MalformedBodyError("The body of your request must be a JSON object.")
    if kind == "missing":
        return MissingParameterError(f"Missing required parameter: '{param}'.", param=param)
    if kind == "extra_forbidden":
        return UnknownParameterError(
            f"Unrecognized request argument supplied: {param}", param=param
        )
    message = first.get("msg", "invalid value")
    if not param:  # a rule about the body as a whole (e.g. two fields that exclude each other)
        return InvalidRequestError(f"Invalid request: {message}.")
    return InvalidRequestError(
        f"Invalid value for '{param}': {message} (got {echoed(first.get('input'))}).", param=param
    )
