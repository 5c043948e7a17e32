"""Content-filter results rendered exactly as Azure OpenAI sends them on the wire (the
OpenAI routes carry the same fields, as Azure's v1 API does).

Shapes from ``../shared/reference/azure-openai.md`` §2.2-2.5, including the live service's
spellings where they differ from its specs: the prompt-blocked 400 says ``innererror``
(no underscore) and ``content_filter_result`` (singular), with ``"type": null`` and
``"status": 400``. Results come from the gateway's content filter; a deployment without a
content policy has none, and then nothing here is rendered. Atrium's PII check has no Azure
counterpart: it is rendered as ``pii`` (``{"filtered", "detected", "redacted", "types"}``).

What a response carries depends on Azure's ``api-version`` (reference §2.1-2.5), described
by an :class:`AnnotationStyle`: no annotations before 2023-06-01-preview (and in the GA
versions before 2024-02-01, whose prompt-blocked 400 had no ``innererror`` either);
``prompt_annotations`` instead of ``prompt_filter_results`` in 2023-06-01-preview;
``custom_blocklists`` as an array ``[{"filtered", "id"}]`` from 2023-12-01-preview, as an
object ``{"filtered", "details": [...]}`` from 2024-04-01-preview, and not at all in the GA
schemas; ``indirect_attack`` from 2024-04-01-preview and not in the GA schemas. The OpenAI
routes and Azure's v1 routes get the newest style (:data:`LATEST_STYLE`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from atrium.safety.results import FilterResults, PromptFilterResults

PROMPT_FILTERED_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management "
    "policy. Please modify your prompt and retry. To learn more about our content filtering "
    "policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)


BlocklistShape = Literal["object", "array", "none"]


@dataclass(frozen=True, slots=True)
class AnnotationStyle:
    """Which content-filter annotations an API version carries, and how it spells them."""

    enabled: bool = True
    prompt_key: str = "prompt_filter_results"
    blocklists: BlocklistShape = "object"
    indirect_attack: bool = True


LATEST_STYLE = AnnotationStyle()
NO_ANNOTATIONS = AnnotationStyle(enabled=False, blocklists="none", indirect_attack=False)


def filter_results(results: FilterResults, style: AnnotationStyle = LATEST_STYLE) -> dict[str, Any]:
    """``{"hate": {"filtered": false, "severity": "safe"}, "jailbreak": {...}, ...}``."""
    rendered: dict[str, Any] = {}
    for name, check in results.categories.items():
        rendered[name] = {"filtered": check.filtered, "severity": check.severity}
    for name, detection in results.detections.items():
        if name == "indirect_attack" and not style.indirect_attack:
            continue
        rendered[name] = {"filtered": detection.filtered, "detected": detection.detected}
    details = [
        {"filtered": blocklist.filtered, "id": blocklist.name} for blocklist in results.blocklists
    ]
    if details and style.blocklists == "array":
        rendered["custom_blocklists"] = details
    elif details and style.blocklists == "object":
        rendered["custom_blocklists"] = {
            "filtered": any(blocklist.filtered for blocklist in results.blocklists),
            "details": details,
        }
    if results.pii is not None:
        rendered["pii"] = {
            "filtered": results.pii.filtered,
            "detected": results.pii.detected,
            "redacted": results.pii.redacted,
            "types": list(results.pii.types),
        }
    if results.error is not None:
        rendered["error"] = {"code": results.error.code, "message": results.error.message}
    return dict(sorted(rendered.items()))


def prompt_filter_results(
    prompts: Sequence[PromptFilterResults], style: AnnotationStyle = LATEST_STYLE
) -> list[dict[str, Any]]:
    return [
        {
            "prompt_index": prompt.prompt_index,
            "content_filter_results": filter_results(prompt.results, style),
        }
        for prompt in prompts
    ]


def prompt_annotations_chunk(
    prompts: Sequence[PromptFilterResults], style: AnnotationStyle = LATEST_STYLE
) -> dict[str, Any]:
    """The first event of an annotated stream: no choice, only the prompt's results."""
    return {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        style.prompt_key: prompt_filter_results(prompts, style),
        "choices": [],
        "usage": None,
    }


def prompt_filtered_body(
    results: FilterResults, style: AnnotationStyle = LATEST_STYLE
) -> dict[str, Any]:
    """The 400 body of a request whose prompt a policy blocked (the versions before
    annotations sent it without ``innererror``)."""
    error: dict[str, Any] = {
        "message": PROMPT_FILTERED_MESSAGE,
        "type": None,
        "param": "prompt",
        "code": "content_filter",
        "status": 400,
    }
    if style.enabled:
        error["innererror"] = {
            "code": "ResponsibleAIPolicyViolation",
            "content_filter_result": filter_results(results, style),
        }
    return {"error": error}
