"""The exception handlers of the app: each error is rendered in its route's dialect.

Routes under ``/openai/`` speak Azure OpenAI (``api.azure.errors``), every other route
OpenAI (``api.openai.errors``). Each dialect maps Atrium's typed exceptions in one place.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from atrium.api.azure.errors import (
    OperationNotFoundError,
    azure_error_payload,
    azure_error_response,
    service_body,
)
from atrium.api.azure.versions import annotation_style
from atrium.api.openai.errors import (
    INTERNAL_ERROR,
    INTERNAL_ERROR_MESSAGE,
    ErrorKind,
    openai_error_body,
    openai_error_response,
)
from atrium.api.validation import error_from_validation
from atrium.errors import AtriumError

logger = logging.getLogger("atrium.api")
AZURE_PREFIX = "/openai/"


def speaks_azure(request: Request) -> bool:
    return request.url.path.startswith(AZURE_PREFIX)


def error_response(request: Request, exc: AtriumError) -> JSONResponse:
    if speaks_azure(request):
        style = annotation_style(request.query_params.get("api-version"))
        return azure_error_response(exc, style)
    return openai_error_response(exc)


async def _atrium_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AtriumError)
    response = error_response(request, exc)
    if response.status_code >= 500:
        logger.error("request failed: %s", exc.message)
    return response


async def _validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return error_response(request, error_from_validation(exc.errors()))


async def _http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if speaks_azure(request) and exc.status_code == 404:
        status, body, _ = azure_error_payload(OperationNotFoundError())
        return JSONResponse(body, status_code=status)
    if exc.status_code == 404:
        message = f"Invalid URL ({request.method} {request.url.path})"
    elif exc.status_code == 405:
        message = f"Method {request.method} is not allowed for {request.url.path}"
    else:
        message = str(exc.detail)
    kind = ErrorKind(exc.status_code, "invalid_request_error", None)
    return JSONResponse(
        openai_error_body(message, kind), status_code=exc.status_code, headers=exc.headers
    )


async def _unexpected_error_handler(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    if speaks_azure(request):
        body = service_body(INTERNAL_ERROR_MESSAGE, "server_error", None, None)
        return JSONResponse(body, status_code=500)
    return JSONResponse(openai_error_body(INTERNAL_ERROR_MESSAGE, INTERNAL_ERROR), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AtriumError, _atrium_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)
