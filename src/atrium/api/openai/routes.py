"""OpenAI v1 routes: a thin edge that decodes, calls the serving layer and renders."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from atrium.api.auth import Authorize
from atrium.api.generation import generate
from atrium.api.request_log import request_log
from atrium.api.state import app_state
from atrium.gateway.roles import Permission, Principal
from atrium.protocol.chat import ChatCompletionRequest
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
    return await generate(request, principal, "chat", body, body.to_canonical(log.request_id))


@router.post("/completions", response_model=None)
async def create_completion(
    body: CompletionRequest, request: Request, principal: Principal = GENERATION
) -> Response:
    log = request_log(request)
    return await generate(request, principal, "text", body, body.to_canonical(log.request_id))


def model_card(row: DeploymentRow) -> ModelCard:
    return ModelCard(id=row.name, created=int(row.created_at.timestamp()), owned_by="atrium")


@router.get("/models")
async def list_models(request: Request, principal: Principal = INFERENCE) -> ModelList:
    """The deployments this key may call: their names are what ``model`` takes."""
    rows = await app_state(request).deployments.visible(principal)
    return ModelList(data=[model_card(row) for row in rows])


@router.get("/models/{model_id:path}")
async def retrieve_model(
    model_id: str, request: Request, principal: Principal = INFERENCE
) -> ModelCard:
    row = await app_state(request).deployments.resolve(model_id, principal)
    return model_card(row)
