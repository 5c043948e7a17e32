"""Content-filter results rendered as Azure sends them: compared with the reference's
recorded bodies (``../shared/reference/azure-openai.md`` §2.2, §2.3, §2.5, §2.1)."""

from __future__ import annotations

import json

from atrium.api.annotations import (
    filter_results,
    prompt_annotations_chunk,
    prompt_filter_results,
)
from atrium.api.azure.errors import azure_error_payload
from atrium.api.openai.errors import openai_error_payload
from atrium.errors import PromptFilteredError
from atrium.safety.results import (
    DetectionCheck,
    FilterError,
    FilterResults,
    PromptFilterResults,
    SeverityCheck,
)

SAFE = {name: SeverityCheck("safe") for name in ("hate", "self_harm", "sexual", "violence")}
CLEAN_PROMPT = FilterResults(
    categories=SAFE,
    detections={"jailbreak": DetectionCheck(False), "profanity": DetectionCheck(False)},
)

# §2.2, the non-streaming success shape (prompt side), as recorded.
REFERENCE_PROMPT_FILTER_RESULTS = json.loads("""
[{"prompt_index": 0,
  "content_filter_results": {
    "hate": {"filtered": false, "severity": "safe"},
    "jailbreak": {"filtered": false, "detected": false},
    "profanity": {"filtered": false, "detected": false},
    "self_harm": {"filtered": false, "severity": "safe"},
    "sexual": {"filtered": false, "severity": "safe"},
    "violence": {"filtered": false, "severity": "safe"}}}]
""")

# §2.3, the prompt-blocked 400 as seen on the wire.
REFERENCE_PROMPT_BLOCKED = json.loads("""
{"error": {
  "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry. To learn more about our content filtering policies please read our documentation: https://go.microsoft.com/fwlink/?linkid=2198766",
  "type": null, "param": "prompt", "code": "content_filter", "status": 400,
  "innererror": {
    "code": "ResponsibleAIPolicyViolation",
    "content_filter_result": {
      "hate": {"filtered": false, "severity": "safe"},
      "jailbreak": {"filtered": false, "detected": false},
      "self_harm": {"filtered": false, "severity": "safe"},
      "sexual": {"filtered": false, "severity": "safe"},
      "violence": {"filtered": true, "severity": "medium"}}}}}
""")  # noqa: E501


def test_prompt_filter_results_match_the_reference() -> None:
    rendered = prompt_filter_results([PromptFilterResults(0, CLEAN_PROMPT)])
    assert rendered == REFERENCE_PROMPT_FILTER_RESULTS


def test_prompt_blocked_400_matches_the_wire_including_its_spellings() -> None:
    violent = FilterResults(
        categories={**SAFE, "violence": SeverityCheck("medium", filtered=True)},
        detections={"jailbreak": DetectionCheck(False)},
    )
    assert violent.filtered
    status, body, _ = azure_error_payload(PromptFilteredError(violent))
    assert status == 400
    assert body == REFERENCE_PROMPT_BLOCKED
    assert "inner_error" not in body["error"]  # the spec's spelling, not the wire's
    assert "content_filter_results" not in body["error"]["innererror"]


def test_openai_routes_say_content_filter_in_openais_envelope() -> None:
    kind, body = openai_error_payload(PromptFilteredError(CLEAN_PROMPT))
    assert kind.status == 400
    assert body["error"]["code"] == "content_filter"
    assert body["error"]["param"] == "prompt"
    assert set(body["error"]) == {"message", "type", "param", "code"}


def test_first_stream_event_carries_only_the_prompt_results() -> None:
    chunk = prompt_annotations_chunk([PromptFilterResults(0, CLEAN_PROMPT)])
    assert chunk == {
        "id": "",
        "object": "",
        "created": 0,
        "model": "",
        "prompt_filter_results": REFERENCE_PROMPT_FILTER_RESULTS,
        "choices": [],
        "usage": None,
    }


def test_a_filter_that_did_not_run_says_so() -> None:
    unchecked = FilterResults(
        error=FilterError("content_filter_error", "The contents are not filtered")
    )
    assert not unchecked.filtered
    assert filter_results(unchecked) == {
        "error": {"code": "content_filter_error", "message": "The contents are not filtered"}
    }


def test_completion_side_detections_render_with_detected() -> None:
    rendered = filter_results(
        FilterResults(
            categories=SAFE,
            detections={"protected_material_text": DetectionCheck(detected=True, filtered=True)},
        )
    )
    assert rendered["protected_material_text"] == {"filtered": True, "detected": True}
    assert list(rendered) == sorted(rendered)
