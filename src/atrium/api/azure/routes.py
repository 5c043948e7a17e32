"""Azure OpenAI routes: classic ``/openai/deployments/{deployment}/...?api-version=`` and
the ``/openai/v1/...`` routes, on the same gateway pipeline as the OpenAI routes.

The edge only translates: the deployment comes from the path (classic; the body's
``model`` is ignored, as Azure does) or from ``model`` (v1), request arguments are checked
against the ``api-version``, and errors are rendered by ``api.azure.errors``.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from atrium.api.auth import Authorize
from atrium.api.azure.errors import (
    ApiVersionMissingError,
    ApiVersionUnsupportedError,
    OperationNotFoundError,
    UnrecognizedArgumentError,
)
from atrium.api.azure.versions import API_VERSIONS, V1_VERSIONS, ApiVersion
from atrium.api.generation import generate
from atrium.api.openai.render import ResponseKind
from atrium.api.openai.routes import model_card
from atrium.api.request_log import request_log
from atrium.api.state import app_state
from atrium.api.validation import error_from_validation
from atrium.errors import MalformedBodyError
from atrium.gateway.roles import Permission, Principal
from atrium.protocol.chat import ChatCompletionRequest
from atrium.protocol.completions import CompletionRequest
from atrium.protocol.models import ModelList

router = APIRouter(prefix="/openai", tags=["azure"])
INFERENCE = Depends(Authorize(Permission.INFERENCE))
GENERATION = Depends(Authorize(Permission.INFERENCE, metered=True))
API_VERSION = Query(default=None, alias="api-version")
Body = TypeVar("Body", bound=BaseModel)


def classic_version(value: str | None) -> ApiVersion:
    if value is None or not value.strip():
        raise ApiVersionMissingError()
    version = API_VERSIONS.get(value.strip())
    if version is None:
        raise ApiVersionUnsupportedError(value)
    return version


def check_v1_version(value: str | None) -> None:
    if value is not None and value not in V1_VERSIONS:
        raise ApiVersionUnsupportedError(value)


async def json_object(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedBodyError(
            "We could not parse the JSON body of your request. The API expects a JSON "
            "payload, but what was sent was not valid JSON."
        ) from exc
    if not isinstance(body, dict):
        raise MalformedBodyError("The body of your request must be a JSON object.")
    return body


def check_arguments(body: dict[str, Any], known: frozenset[str], version: str) -> None:
    for argument in body:
        if argument not in known:
            raise UnrecognizedArgumentError(argument, version)


def parse(model: type[Body], body: dict[str, Any]) -> Body:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise error_from_validation([dict(e) for e in exc.errors(include_url=False)]) from exc


@router.post("/deployments/{deployment}/chat/completions", response_model=None)
async def classic_chat_completion(
    deployment: str,
    request: Request,
    principal: Principal = GENERATION,
    api_version: str | None = API_VERSION,
) -> Response:
    return await classic_generation(request, principal, deployment, api_version, "chat")


@router.post("/deployments/{deployment}/completions", response_model=None)
async def classic_completion(
    deployment: str,
    request: Request,
    principal: Principal = GENERATION,
    api_version: str | None = API_VERSION,
) -> Response:
    return await classic_generation(request, principal, deployment, api_version, "text")


async def classic_generation(
    request: Request,
    principal: Principal,
    deployment: str,
    api_version: str | None,
    kind: ResponseKind,
) -> Response:
    """A classic-route generation: the path names the deployment, the version the arguments."""
    version = classic_version(api_version)
    if kind == "chat" and not version.has_chat:
        raise OperationNotFoundError()
    body = await json_object(request)
    known = version.chat_arguments if kind == "chat" else version.completion_arguments
    check_arguments(body, known, version.name)
    payload = {**body, "model": deployment}
    parsed: ChatCompletionRequest | CompletionRequest
    if kind == "chat":
        parsed = parse(ChatCompletionRequest, payload)
    else:
        parsed = parse(CompletionRequest, payload)
    canonical = parsed.to_canonical(request_log(request).request_id)
    return await generate(
        request, principal, kind, parsed, canonical, annotations=version.annotations
    )


@router.get("/models")
async def list_base_models(
    request: Request, principal: Principal = INFERENCE, api_version: str | None = API_VERSION
) -> dict[str, Any]:
    """The models the engines serve (Azure lists base models here, not deployments)."""
    classic_version(api_version)
    state = app_state(request)
    data = [
        {
            "status": "succeeded",
            "capabilities": {
                "fine_tune": False,
                "inference": True,
                "completion": True,
                "chat_completion": True,
                "embeddings": False,
            },
            "lifecycle_status": "generally-available",
            "id": info.id,
            "created_at": info.created or state.started_at,
            "object": "model",
        }
        for engine in state.engines.values()
        for info in engine.models()
    ]
    return {"data": data, "object": "list"}


@router.get("/deployments")
async def list_deployments_legacy(
    request: Request, principal: Principal = INFERENCE, api_version: str | None = API_VERSION
) -> dict[str, Any]:
    """The data-plane deployments listing of the old previews (gone from 2023-05-15 on)."""
    if not classic_version(api_version).lists_deployments:
        raise OperationNotFoundError()
    rows = await app_state(request).deployments.visible(principal)
    data = [
        {
            "created_at": int(row.created_at.timestamp()),
            "id": row.name,
            "model": row.model,
            "object": "deployment",
            "owner": "organization-owner",
            "status": "succeeded",
        }
        for row in rows
    ]
    return {"data": data, "object": "list"}


@router.post("/v1/chat/completions", response_model=None)
async def v1_chat_completion(
    body: ChatCompletionRequest,
    request: Request,
    principal: Principal = GENERATION,
    api_version: str | None = API_VERSION,
) -> Response:
    check_v1_version(api_version)
    canonical = body.to_canonical(request_log(request).request_id)
    return await generate(request, principal, "chat", body, canonical)


@router.post("/v1/completions", response_model=None)
async def v1_completion(
    body: CompletionRequest,
    request: Request,
    principal: Principal = GENERATION,
    api_version: str | None = API_VERSION,
) -> Response:
    check_v1_version(api_version)
    canonical = body.to_canonical(request_log(request).request_id)
    return await generate(request, principal, "text", body, canonical)


@router.get("/v1/models")
async def v1_models(
    request: Request, principal: Principal = INFERENCE, api_version: str | None = API_VERSION
) -> ModelList:
    """The deployments this key may call (their names are what ``model`` takes in v1)."""
    check_v1_version(api_version)
    rows = await app_state(request).deployments.visible(principal)
    return ModelList(data=[model_card(row) for row in rows])
