"""The typed exceptions of Atrium.

Every layer below the HTTP edge raises these; each dialect maps them to its own status code
and error envelope in exactly one place (``atrium.api.errors``). Nothing matches on message
texts: the class and its fields carry everything a renderer needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atrium.safety.results import FilterResults


class AtriumError(Exception):
    """Base class of every error Atrium raises on purpose."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


class InvalidRequestError(AtriumError):
    """The request is well-formed JSON but asks for something invalid."""


class MissingParameterError(InvalidRequestError):
    """A required parameter is absent."""


class UnknownParameterError(InvalidRequestError):
    """The request names a parameter the API does not define."""


class UnsupportedParameterError(InvalidRequestError):
    """The API defines this parameter (or value) but Atrium does not support it yet."""


class MalformedBodyError(InvalidRequestError):
    """The body is not valid JSON (or not a JSON object)."""


class ModelNotFoundError(AtriumError):
    """The requested model is not served here."""

    def __init__(self, model: str) -> None:
        super().__init__(
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
        )
        self.model = model


class ContextLengthExceededError(InvalidRequestError):
    """The prompt (plus the requested completion) does not fit the model's context."""

    def __init__(
        self,
        *,
        context_size: int,
        prompt_tokens: int,
        max_tokens: int | None,
        param: str = "messages",
    ) -> None:
        if max_tokens is None:
            message = (
                f"This model's maximum context length is {context_size} tokens. However, your "
                f"prompt has {prompt_tokens} tokens. Please reduce the length of the prompt."
            )
        else:
            message = (
                f"This model's maximum context length is {context_size} tokens. However, you "
                f"requested {prompt_tokens + max_tokens} tokens ({prompt_tokens} in the prompt, "
                f"{max_tokens} for the completion). Please reduce the length of the prompt or "
                "the completion."
            )
        super().__init__(message, param=param)
        self.context_size = context_size
        self.prompt_tokens = prompt_tokens
        self.max_tokens = max_tokens


class ClientDisconnectedError(AtriumError):
    """The client closed the connection before the answer was complete."""

    def __init__(self) -> None:
        super().__init__("client disconnected")


class EngineError(AtriumError):
    """The engine failed while serving a request."""


class EngineUnavailableError(EngineError):
    """The engine is not ready (still loading, stopped, or unreachable)."""


class EngineOverloadedError(EngineError):
    """The engine refuses more work for now; the client should retry later."""

    def __init__(self, message: str, *, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ConfigurationError(AtriumError):
    """A setting is invalid; the service refuses to start."""


class StoreUnavailableError(AtriumError):
    """The database cannot be reached or refused the operation."""


class AuthenticationError(AtriumError):
    """An API key that is unknown, revoked or expired (HTTP 401)."""


class MissingApiKeyError(AuthenticationError):
    """The request carries no API key at all (HTTP 401)."""

    def __init__(self) -> None:
        super().__init__(
            "You didn't provide an API key. Provide it in an Authorization header using "
            "Bearer auth (Authorization: Bearer YOUR_KEY) or in an api-key header."
        )


class PermissionDeniedError(AtriumError):
    """The key is valid but its role or deployment scope does not allow this (HTTP 403)."""


class NotFoundError(AtriumError):
    """A named control-plane object (deployment, key) does not exist (HTTP 404)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"{kind} {name!r} not found")
        self.kind = kind
        self.name = name


class ConflictError(AtriumError):
    """The object already exists, or the change conflicts with the current state (409)."""


class PromptFilteredError(InvalidRequestError):
    """A content policy blocked the prompt; ``results`` says which checks did."""

    def __init__(self, results: FilterResults) -> None:
        super().__init__(
            "The prompt was filtered by the content policy of this deployment.", param="prompt"
        )
        self.results = results
