"""The interface every content classifier implements, so a stronger one can be plugged in.

A classifier takes a batch of texts and returns, for each text, one ``Verdict`` per label it
knows: harm categories (``hate``, ``sexual``, ``violence``, ``self_harm``) come with a
severity, detections (``jailbreak``, ``indirect_attack``, ``profanity``) with whether they
were detected; both with a confidence in [0, 1]. Implementations must be safe to call from
several threads at once (the gateway calls them from worker threads) and should batch.

A classifier that cannot answer raises ``ClassifierError``; the pipeline turns that into an
annotated error (and fails open or closed as the policy says), never into "clean".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from atrium.safety.results import HARM_CATEGORIES, Severity

DETECTION_LABELS = ("jailbreak", "indirect_attack", "profanity")
LABELS = HARM_CATEGORIES + DETECTION_LABELS
SEVERITY_ORDER: tuple[Severity, ...] = ("safe", "low", "medium", "high")


class ClassifierError(Exception):
    """The classifier could not classify the texts (model missing, remote guard down, ...)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """One label's outcome for one text.

    ``severity`` is set for harm categories (``safe`` when nothing was found) and ``None``
    for detections. ``detected`` is true when the label applies (for harm categories: the
    severity is above ``safe``). ``confidence`` is the classifier's probability for the label.
    """

    label: str
    detected: bool
    confidence: float
    severity: Severity | None = None


TextVerdicts = Mapping[str, Verdict]


@runtime_checkable
class TextClassifier(Protocol):
    """Text in, per-label verdicts out."""

    @property
    def name(self) -> str:
        """A short identifier, shown in metrics and errors (``linear``, ``guard``, ...)."""
        ...

    @property
    def labels(self) -> frozenset[str]:
        """The labels this classifier returns verdicts for (a subset of ``LABELS``)."""
        ...

    def classify(self, texts: Sequence[str]) -> list[TextVerdicts]:
        """One mapping label → verdict per text, in the order of ``texts``.

        Raises ``ClassifierError`` when it cannot classify.
        """
        ...


def severity_at_least(severity: Severity, threshold: Severity) -> bool:
    return SEVERITY_ORDER.index(severity) >= SEVERITY_ORDER.index(threshold)
