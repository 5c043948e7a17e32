"""What content filtering found, as plain data the dialects render.

Azure OpenAI's vocabulary: harm *categories* (``hate``, ``sexual``, ``violence``,
``self_harm``) get a severity and whether they were filtered; binary *detections*
(``jailbreak``, ``indirect_attack``, ``profanity``, ``protected_material_text``, ...) get
detected/filtered. When a filter could not run, the result says so (``error``) instead of
pretending the text is clean.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["safe", "low", "medium", "high"]
HARM_CATEGORIES = ("hate", "sexual", "violence", "self_harm")


@dataclass(frozen=True, slots=True)
class SeverityCheck:
    severity: Severity
    filtered: bool = False


@dataclass(frozen=True, slots=True)
class DetectionCheck:
    detected: bool
    filtered: bool = False


@dataclass(frozen=True, slots=True)
class FilterError:
    """A filter that did not run (down, timed out): the text went through unchecked."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class FilterResults:
    """The checks run on one text (a prompt, or one choice of a completion)."""

    categories: Mapping[str, SeverityCheck] = field(default_factory=dict)
    detections: Mapping[str, DetectionCheck] = field(default_factory=dict)
    error: FilterError | None = None

    @property
    def filtered(self) -> bool:
        return any(check.filtered for check in self.categories.values()) or any(
            detection.filtered for detection in self.detections.values()
        )


@dataclass(frozen=True, slots=True)
class PromptFilterResults:
    """The results for prompt number ``prompt_index`` of a request."""

    prompt_index: int
    results: FilterResults
