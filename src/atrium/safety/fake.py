"""A deterministic classifier for tests of everything above the classifiers.

It reads explicit markers instead of judging text, so a test says exactly what it expects:
``<<violence:medium>>`` makes a text violent at medium severity, ``<<jailbreak>>`` a prompt
attack, ``<<profanity>>`` profane, ``<<indirect_attack>>`` an injected instruction. A text
with ``<<classifier-error>>`` makes the whole batch fail as a broken classifier would. It
records every batch it was given, and can be told to fail every call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence

from atrium.safety.classifier import (
    DETECTION_LABELS,
    LABELS,
    SEVERITY_ORDER,
    ClassifierError,
    Verdict,
)
from atrium.safety.results import HARM_CATEGORIES, Severity

MARKER = re.compile(r"<<([a-z_]+)(?::(safe|low|medium|high))?>>")
ERROR_MARKER = "<<classifier-error>>"


class FakeClassifier:
    """Verdicts from ``<<label[:severity]>>`` markers in the text (severity defaults to high)."""

    def __init__(self, *, failing: bool = False) -> None:
        self.failing = failing
        self.batches: list[list[str]] = []
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "fake"

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(LABELS)

    def classify(self, texts: Sequence[str]) -> list[Mapping[str, Verdict]]:
        with self._lock:
            self.batches.append(list(texts))
        if self.failing or any(ERROR_MARKER in text for text in texts):
            raise ClassifierError("the fake classifier was told to fail")
        return [self._verdicts(text) for text in texts]

    @staticmethod
    def _verdicts(text: str) -> dict[str, Verdict]:
        marked: dict[str, Severity] = {}
        for label, severity in MARKER.findall(text):
            level: Severity = severity or "high"
            if label in marked and SEVERITY_ORDER.index(marked[label]) >= SEVERITY_ORDER.index(
                level
            ):
                continue
            marked[label] = level
        verdicts: dict[str, Verdict] = {}
        for label in HARM_CATEGORIES:
            severity_found: Severity = marked.get(label, "safe")
            found = severity_found != "safe"
            verdicts[label] = Verdict(label, found, 0.99 if found else 0.01, severity_found)
        for label in DETECTION_LABELS:
            found = label in marked
            verdicts[label] = Verdict(label, found, 0.99 if found else 0.01)
        return verdicts
