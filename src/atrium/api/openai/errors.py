"""OpenAI's error envelope, and the one mapping from Atrium's exceptions to it.

``{"error": {"message", "type", "param", "code"}}`` with the status OpenAI uses.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from atrium.errors import (
    AtriumError,
    AuthenticationError,
    ClientDisconnectedError,
    ConflictError,
    ContextLengthExceededError,
    EngineError,
    EngineOverloadedError,
    EngineUnavailableError,
    InvalidRequestError,
    MalformedBodyError,
    MissingApiKeyError,
    MissingParameterError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    PromptFilteredError,
    StoreUnavailableError,
    UnknownParameterError,
    UnsupportedParameterError,
)

logger = logging.getLogger("atrium.api")


@dataclass(frozen=True, slots=True)
class ErrorKind:
    status: int
    type: str
    code: str | None


# Most specific class first: the first ``isinstance`` match wins.
OPENAI_ERROR_KINDS: tuple[tuple[type[AtriumError], ErrorKind], ...] = (
    (ClientDisconnectedError, ErrorKind(499, "client_closed_request", None)),
    (MissingApiKeyError, ErrorKind(401, "invalid_request_error", None)),
    (AuthenticationError, ErrorKind(401, "invalid_request_error", "invalid_api_key")),
    (PermissionDeniedError, ErrorKind(403, "permission_error", "permission_denied")),
    (NotFoundError, ErrorKind(404, "invalid_request_error", "not_found")),
    (ConflictError, ErrorKind(409, "invalid_request_error", "conflict")),
    (MalformedBodyError, ErrorKind(400, "invalid_request_error", None)),
    (MissingParameterError, ErrorKind(400, "invalid_request_error", "missing_required_parameter")),
    (UnknownParameterError, ErrorKind(400, "invalid_request_error", "unknown_parameter")),
    (UnsupportedParameterError, ErrorKind(400, "invalid_request_error", "unsupported_parameter")),
    (
        ContextLengthExceededError,
        ErrorKind(400, "invalid_request_error", "context_length_exceeded"),
    ),
    (PromptFilteredError, ErrorKind(400, "invalid_request_error", "content_filter")),
    (InvalidRequestError, ErrorKind(400, "invalid_request_error", "invalid_value")),
    (ModelNotFoundError, ErrorKind(404, "invalid_request_error", "model_not_found")),
    (EngineOverloadedError, ErrorKind(429, "rate_limit_error", "engine_overloaded")),
    (EngineUnavailableError, ErrorKind(503, "server_error", "engine_unavailable")),
    (StoreUnavailableError, ErrorKind(503, "server_error", "store_unavailable")),
    (EngineError, ErrorKind(500, "server_error", "engine_error")),
)
INTERNAL_ERROR = ErrorKind(500, "server_error", None)
# How long a client should wait before retrying while the engine is down or loading.
UNAVAILABLE_RETRY_AFTER_S = 5
INTERNAL_ERROR_MESSAGE = "The server had an error while processing your request."


def openai_error_kind(exc: AtriumError) -> ErrorKind:
    for error_class, kind in OPENAI_ERROR_KINDS:
        if isinstance(exc, error_class):
            return kind
    return INTERNAL_ERROR


def openai_error_body(message: str, kind: ErrorKind, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind.type, "param": param, "code": kind.code}}


def openai_error_payload(exc: AtriumError) -> tuple[ErrorKind, dict[str, Any]]:
    kind = openai_error_kind(exc)
    return kind, openai_error_body(exc.message, kind, exc.param)


def openai_error_response(exc: AtriumError) -> JSONResponse:
    kind, body = openai_error_payload(exc)
    headers = {}
    if isinstance(exc, EngineOverloadedError):
        headers["retry-after"] = str(max(1, round(exc.retry_after_s)))
    elif isinstance(exc, EngineUnavailableError | StoreUnavailableError):
        headers["retry-after"] = str(UNAVAILABLE_RETRY_AFTER_S)
    elif isinstance(exc, AuthenticationError):
        headers["www-authenticate"] = 'Bearer realm="atrium"'
    return JSONResponse(body, status_code=kind.status, headers=headers)
