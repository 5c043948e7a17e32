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
class BlocklistCheck:
    """A custom blocklist of the policy that matched the text."""

    name: str
    filtered: bool = False


@dataclass(frozen=True, slots=True)
class PiiCheck:
    """Personal data found in the text (``types``), and what was done: reported, replaced by
    placeholders (``redacted``) or refused (``filtered``)."""

    detected: bool
    types: tuple[str, ...] = ()
    redacted: bool = False
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
    blocklists: tuple[BlocklistCheck, ...] = ()
    pii: PiiCheck | None = None
    error: FilterError | None = None
    # The policy fails closed and a classifier failed: the text is refused unchecked.
    refused_on_error: bool = False

    @property
    def filtered(self) -> bool:
        return (
            self.refused_on_error
            or any(check.filtered for check in self.categories.values())
            or any(detection.filtered for detection in self.detections.values())
            or any(blocklist.filtered for blocklist in self.blocklists)
            or (self.pii is not None and self.pii.filtered)
        )

    def filtered_labels(self) -> list[str]:
        """The names of the checks that filtered the text (for usage records and metrics)."""
        labels = [name for name, check in self.categories.items() if check.filtered]
        labels += [name for name, check in self.detections.items() if check.filtered]
        if any(blocklist.filtered for blocklist in self.blocklists):
            labels.append("custom_blocklists")
        if self.pii is not None and self.pii.filtered:
            labels.append("pii")
        if self.refused_on_error:
            labels.append("error")
        return labels

    def findings(self) -> list[tuple[str, str]]:
        """(check, outcome) for each check that found something or failed (for metrics):
        ``filtered``, ``annotated`` or ``redacted``; ``error`` when a classifier did not run."""

        def outcome(filtered: bool) -> str:
            return "filtered" if filtered else "annotated"

        found = [
            (name, outcome(check.filtered))
            for name, check in self.categories.items()
            if check.severity != "safe"
        ]
        found += [
            (name, outcome(check.filtered))
            for name, check in self.detections.items()
            if check.detected
        ]
        found += [("custom_blocklists", outcome(b.filtered)) for b in self.blocklists]
        if self.pii is not None and self.pii.detected:
            found.append(("pii", "redacted" if self.pii.redacted else outcome(self.pii.filtered)))
        if self.error is not None:
            found.append(("classifier", "error"))
        return found


@dataclass(frozen=True, slots=True)
class PromptFilterResults:
    """The results for prompt number ``prompt_index`` of a request."""

    prompt_index: int
    results: FilterResults
