"""Content-filter results rendered exactly as Azure OpenAI sends them on the wire (the
OpenAI routes carry the same fields, as Azure's v1 API does).

Shapes from ``../shared/reference/azure-openai.md`` §2.2-2.5, including the live service's
spellings where they differ from its specs: the prompt-blocked 400 says ``innererror``
(no underscore) and ``content_filter_result`` (singular), with ``"type": null`` and
``"status": 400``. Results come from the gateway's content filter; a deployment without a
content policy has none, and then nothing here is rendered. Atrium's PII check has no Azure
counterpart: it is rendered as ``pii`` (``{"filtered", "detected", "redacted", "types"}``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from atrium.safety.results import FilterResults, PromptFilterResults

PROMPT_FILTERED_MESSAGE = (
    "The response was filtered due to the prompt triggering Azure OpenAI's content management "
    "policy. Please modify your prompt and retry. To learn more about our content filtering "
    "policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766"
)


def filter_results(results: FilterResults) -> dict[str, Any]:
    """``{"hate": {"filtered": false, "severity": "safe"}, "jailbreak": {...}, ...}``."""
    rendered: dict[str, Any] = {}
    for name, check in results.categories.items():
        rendered[name] = {"filtered": check.filtered, "severity": check.severity}
    for name, detection in results.detections.items():
        rendered[name] = {"filtered": detection.filtered, "detected": detection.detected}
    if results.blocklists:
        rendered["custom_blocklists"] = {
            "filtered": any(blocklist.filtered for blocklist in results.blocklists),
            "details": [
                {"filtered": blocklist.filtered, "id": blocklist.name}
                for blocklist in results.blocklists
            ],
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


def prompt_filter_results(prompts: Sequence[PromptFilterResults]) -> list[dict[str, Any]]:
    return [
        {
            "prompt_index": prompt.prompt_index,
            "content_filter_results": filter_results(prompt.results),
        }
        for prompt in prompts
    ]


def prompt_annotations_chunk(prompts: Sequence[PromptFilterResults]) -> dict[str, Any]:
    """The first event of an annotated stream: no choice, only the prompt's results."""
    return {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        "prompt_filter_results": prompt_filter_results(prompts),
        "choices": [],
        "usage": None,
    }


def prompt_filtered_body(results: FilterResults) -> dict[str, Any]:
    """The 400 body of a request whose prompt a policy blocked."""
    return {
        "error": {
            "message": PROMPT_FILTERED_MESSAGE,
            "type": None,
            "param": "prompt",
            "code": "content_filter",
            "status": 400,
            "innererror": {
                "code": "ResponsibleAIPolicyViolation",
                "content_filter_result": filter_results(results),
            },
        }
    }
