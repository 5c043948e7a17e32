"""Azure OpenAI's error bodies, and the one mapping from Atrium's exceptions to them.

Azure answers in two shapes. Its gateway (keys, routing, deployments, rate limits) says
``{"error": {"code": "...", "message": "..."}}`` with the status as a *string* code
(``"401"``, ``"404"``, ``"429"``) or a name (``DeploymentNotFound``); requests that reach
the model service get OpenAI's ``{"error": {"message", "type", "param", "code"}}``.
Bodies follow ``../shared/reference/azure-openai.md`` (§1.2, §1.7, §3) word for word where
it records them.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from atrium.api.annotations import LATEST_STYLE, AnnotationStyle, prompt_filtered_body
from atrium.api.azure.versions import GA_VERSIONS, PREVIEW_VERSIONS
from atrium.api.openai.errors import INTERNAL_ERROR_MESSAGE, openai_error_kind
from atrium.errors import (
    AtriumError,
    AuthenticationError,
    ClientDisconnectedError,
    EngineError,
    EngineOverloadedError,
    EngineUnavailableError,
    InvalidRequestError,
    MissingApiKeyError,
    ModelNotFoundError,
    NotFoundError,
    PermissionDeniedError,
    PromptFilteredError,
    StoreUnavailableError,
    UnknownParameterError,
)

SUPPORT_LINK = "https://go.microsoft.com/fwlink/?linkid=2213926"
UNAVAILABLE_RETRY_AFTER_S = 5


class ApiVersionMissingError(AtriumError):
    """A classic route without ``?api-version=`` (Azure: 404 Resource not found)."""

    def __init__(self) -> None:
        super().__init__(
            "Resource not found. The request has no api-version query parameter: add "
            f"?api-version=YYYY-MM-DD (for example ?api-version={GA_VERSIONS[-1]})."
        )


class ApiVersionUnsupportedError(AtriumError):
    """An ``api-version`` value Atrium does not know."""

    def __init__(self, version: str) -> None:
        super().__init__(
            f"API version not supported: {version!r}. Supported versions: "
            f"{', '.join((*GA_VERSIONS, *PREVIEW_VERSIONS))}."
        )
        self.version = version


def unrecognized_message(argument: str) -> str:
    return (
        f"Unrecognized request argument supplied: {argument}. Please contact us through an "
        f"Azure support request at: {SUPPORT_LINK} for further questions."
    )


class UnrecognizedArgumentError(InvalidRequestError):
    """A request argument the chosen api-version does not have."""

    def __init__(self, argument: str, version: str | None) -> None:
        super().__init__(unrecognized_message(argument))
        self.argument = argument
        self.version = version


class OperationNotFoundError(AtriumError):
    """A route that exists in other api-versions but not the requested one."""

    def __init__(self) -> None:
        super().__init__("Resource not found")


MISSING_KEY_MESSAGE = (
    "Access denied due to missing subscription key. Make sure to include subscription key "
    "when making requests to an API."
)
INVALID_KEY_MESSAGE = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide "
    "a valid key for an active subscription and use a correct regional API endpoint for your "
    "resource."
)
DEPLOYMENT_NOT_FOUND_MESSAGE = (
    "The API deployment for this resource does not exist. If you created the deployment "
    "within the last 5 minutes, please wait a moment and try again."
)


def gateway_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def service_body(
    message: str, error_type: str | None, param: str | None, code: str | None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def _retry_headers(seconds: float) -> dict[str, str]:
    whole = max(1, round(seconds))
    return {"retry-after": str(whole), "retry-after-ms": str(int(max(seconds, 0.001) * 1000))}


def azure_error_payload(
    exc: AtriumError, annotations: AnnotationStyle = LATEST_STYLE
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """Status, body and headers of ``exc`` as Azure OpenAI renders it (a blocked prompt's
    results as the request's API version spells them)."""
    if isinstance(exc, ApiVersionMissingError | OperationNotFoundError):
        return 404, gateway_body("404", exc.message), {}
    if isinstance(exc, ApiVersionUnsupportedError):
        return 400, gateway_body("BadRequest", exc.message), {}
    if isinstance(exc, MissingApiKeyError):
        return 401, gateway_body("401", MISSING_KEY_MESSAGE), {}
    if isinstance(exc, AuthenticationError):
        return 401, gateway_body("401", INVALID_KEY_MESSAGE), {}
    if isinstance(exc, PermissionDeniedError):
        return 403, gateway_body("PermissionDenied", exc.message), {}
    if isinstance(exc, ModelNotFoundError):
        return 404, gateway_body("DeploymentNotFound", DEPLOYMENT_NOT_FOUND_MESSAGE), {}
    if isinstance(exc, NotFoundError):
        return 404, gateway_body("404", exc.message), {}
    if isinstance(exc, EngineOverloadedError):
        message = f"{exc.message} Please retry after {max(1, round(exc.retry_after_s))} seconds."
        return 429, gateway_body("429", message), _retry_headers(exc.retry_after_s)
    if isinstance(exc, EngineUnavailableError | StoreUnavailableError):
        body = gateway_body("ServiceUnavailable", exc.message)
        return 503, body, _retry_headers(UNAVAILABLE_RETRY_AFTER_S)
    if isinstance(exc, PromptFilteredError):
        return 400, prompt_filtered_body(exc.results, annotations), {}
    if isinstance(exc, UnrecognizedArgumentError | UnknownParameterError):
        message = unrecognized_message(exc.param) if exc.param else exc.message
        return 400, service_body(message, "invalid_request_error", None, None), {}
    if isinstance(exc, InvalidRequestError | ClientDisconnectedError):
        kind = openai_error_kind(exc)  # what the model service behind Azure says
        return kind.status, service_body(exc.message, kind.type, exc.param, kind.code), {}
    message = exc.message if isinstance(exc, EngineError) else INTERNAL_ERROR_MESSAGE
    return 500, service_body(message, "server_error", None, None), {}


def azure_error_response(
    exc: AtriumError, annotations: AnnotationStyle = LATEST_STYLE
) -> JSONResponse:
    status, body, headers = azure_error_payload(exc, annotations)
    return JSONResponse(body, status_code=status, headers=headers)
