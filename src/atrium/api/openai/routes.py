"""OpenAI v1 routes: a thin edge that decodes, calls the serving layer and renders."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

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
from atrium.engines.base import GenerationRequest, ModelInfo
from atrium.protocol.chat import ChatCompletionRequest
from atrium.protocol.common import SamplingFields
from atrium.protocol.completions import CompletionRequest
from atrium.protocol.models import ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["openai"])


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(body: ChatCompletionRequest, request: Request) -> Response:
    log = request_log(request)
    return await _generate(request, "chat", body, body.to_canonical(log.request_id))


@router.post("/completions", response_model=None)
async def create_completion(body: CompletionRequest, request: Request) -> Response:
    log = request_log(request)
    return await _generate(request, "text", body, body.to_canonical(log.request_id))


async def _generate(
    request: Request, kind: ResponseKind, body: SamplingFields, canonical: GenerationRequest
) -> Response:
    include_usage = body.include_usage()
    service = app_state(request).completions
    log = request_log(request)
    log.model = canonical.model
    meta = ResponseMeta.new(kind, canonical.model, canonical.sampling)
    if body.stream:
        stream = await unless_disconnected(request, service.open(canonical))
        renderer = ChunkRenderer(kind, meta, include_usage)
        return EventStreamResponse(stream_events(renderer, stream, log), headers=SSE_HEADERS)
    result = await unless_disconnected(request, service.complete(canonical))
    record_usage(log, result.usage, tuple(choice.finish_reason for choice in result.choices))
    rendered = (
        render_chat_completion(meta, result)
        if kind == "chat"
        else render_text_completion(meta, result)
    )
    return JSONResponse(rendered.model_dump())


def _model_card(info: ModelInfo, default_created: int) -> ModelCard:
    return ModelCard(id=info.id, created=info.created or default_created, owned_by=info.owned_by)


@router.get("/models")
async def list_models(request: Request) -> ModelList:
    state = app_state(request)
    models = state.completions.served_models()
    return ModelList(data=[_model_card(info, state.started_at) for info in models])


@router.get("/models/{model_id:path}")
async def retrieve_model(model_id: str, request: Request) -> ModelCard:
    state = app_state(request)
    return _model_card(state.completions.model(model_id), state.started_at)
