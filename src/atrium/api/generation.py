"""One generation, streamed or not, rendered in OpenAI's shapes (which Azure shares)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from atrium.api.annotations import LATEST_STYLE, AnnotationStyle
from atrium.api.openai.render import (
    ChunkRenderer,
    ResponseKind,
    ResponseMeta,
    record_usage,
    render_chat_completion,
    render_text_completion,
    stream_events,
    with_annotations,
)
from atrium.api.request_log import request_log
from atrium.api.state import app_state
from atrium.api.streaming import SSE_HEADERS, EventStreamResponse, unless_disconnected
from atrium.engines.base import GenerationRequest
from atrium.gateway.roles import Principal
from atrium.protocol.chat import ChatCompletionRequest
from atrium.protocol.common import SamplingFields
from atrium.structured.plan import TEXT_PLAN


async def generate(
    request: Request,
    principal: Principal,
    kind: ResponseKind,
    body: SamplingFields,
    canonical: GenerationRequest,
    *,
    annotations: AnnotationStyle = LATEST_STYLE,
) -> Response:
    """Run ``canonical`` and answer in OpenAI's shapes, with the content-filter annotations
    spelled as ``annotations`` says (Azure's older API versions differ)."""
    include_usage = body.include_usage()
    service = app_state(request).completions
    log = request_log(request)
    target = await service.resolve(canonical.model, principal)
    log.deployment, log.model = target.deployment, target.model
    screen = service.screen_for(target, log.record_filter_results)
    # The model's tool format decides the grammar and how tools reach it (applied after the
    # content filter has seen the messages as sent); JSON outputs and tool calls are read from
    # the text after the content filter, here.
    plan = (
        body.output_plan(target.tool_format)
        if isinstance(body, ChatCompletionRequest)
        else TEXT_PLAN
    )
    meta = ResponseMeta.new(kind, target.model, canonical.sampling)
    if body.stream:
        opened = service.open(canonical, target, screen, prepare=plan.apply)
        stream = await unless_disconnected(request, opened)
        renderer = ChunkRenderer(
            kind, meta, include_usage, stream.prompt_results, plan, annotations
        )
        return EventStreamResponse(stream_events(renderer, stream, log), headers=SSE_HEADERS)
    completed = service.complete(canonical, target, screen, prepare=plan.apply)
    result = await unless_disconnected(request, completed)
    record_usage(log, result.usage, tuple(choice.finish_reason for choice in result.choices))
    rendered = (
        render_chat_completion(meta, result, plan)
        if kind == "chat"
        else render_text_completion(meta, result)
    )
    log.finish_reason = ",".join(choice.finish_reason or "" for choice in rendered.choices)
    return JSONResponse(with_annotations(rendered.model_dump(), result, annotations))
