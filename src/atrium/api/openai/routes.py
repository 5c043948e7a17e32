"""OpenAI v1 routes: a thin edge that decodes, calls the serving layer and renders."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from atrium.api.auth import Authorize
from atrium.api.openai.render import (
    ChunkRenderer,
    ResponseKind,
    ResponseMeta,
    record_usage,
    render_chat_completion,
    render_text_completion,
    stream_events,
)
from atrium.api.request_log import request_log
from atrium.api.state import app_state
from atrium.api.streaming import SSE_HEADERS, EventStreamResponse, unless_disconnected
from atrium.engines.base import GenerationRequest
from atrium.gateway.roles import Permission, Principal
from atrium.protocol.chat import ChatCompletionRequest
from atrium.protocol.common import SamplingFields
from atrium.protocol.completions import CompletionRequest
from atrium.protocol.models import ModelCard, ModelList
from atrium.store.schema import DeploymentRow

router = APIRouter(prefix="/v1", tags=["openai"])
INFERENCE = Depends(Authorize(Permission.INFERENCE))
GENERATION = Depends(Authorize(Permission.INFERENCE, metered=True))


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest, request: Request, principal: Principal = GENERATION
) -> Response:
    log = request_log(request)
    return await _generate(request, principal, "chat", body, body.to_canonical(log.request_id))


@router.post("/completions", response_model=None)
async def create_completion(
    body: CompletionRequest, request: Request, principal: Principal = GENERATION
) -> Response:
    log = request_log(request)
    return await _generate(request, principal, "text", body, body.to_canonical(log.request_id))


async def _generate(
    request: Request,
    principal: Principal,
    kind: ResponseKind,
    body: SamplingFields,
    canonical: GenerationRequest,
) -> Response:
    include_usage = body.include_usage()
    service = app_state(request).completions
    log = request_log(request)
    target = await service.resolve(canonical.model, principal)
    log.deployment, log.model = target.deployment, target.model
    meta = ResponseMeta.new(kind, target.model, canonical.sampling)
    if body.stream:
        stream = await unless_disconnected(request, service.open(canonical, target))
        renderer = ChunkRenderer(kind, meta, include_usage)
        return EventStreamResponse(stream_events(renderer, stream, log), headers=SSE_HEADERS)
    result = await unless_disconnected(request, service.complete(canonical, target))
    record_usage(log, result.usage, tuple(choice.finish_reason for choice in result.choices))
    rendered = (
        render_chat_completion(meta, result)
        if kind == "chat"
        else render_text_completion(meta, result)
    )
    return JSONResponse(rendered.model_dump())


def _model_card(row: DeploymentRow) -> ModelCard:
    return ModelCard(id=row.name, created=int(row.created_at.timestamp()), owned_by="atrium")


@router.get("/models")
async def list_models(request: Request, principal: Principal = INFERENCE) -> ModelList:
    """The deployments this key may call: their names are what ``model`` takes."""
    rows = await app_state(request).deployments.visible(principal)
    return ModelList(data=[_model_card(row) for row in rows])


@router.get("/models/{model_id:path}")
async def retrieve_model(
    model_id: str, request: Request, principal: Principal = INFERENCE
) -> ModelCard:
    row = await app_state(request).deployments.resolve(model_id, principal)
    return _model_card(row)
