"""Applying a content policy to texts: classify, compare with the thresholds, find personal
data and blocklisted words, and say what is filtered or redacted.

``ContentFilter.screen`` takes the texts of one prompt (its messages, each with the role
that wrote it) or of one completion and returns ``FilterResults`` — the plain data the
dialects render — with the texts after redaction. It is synchronous CPU work: the gateway
runs it in a worker thread. Which checks apply where:

- harm categories (``hate``, ``sexual``, ``violence``, ``self_harm``) and ``profanity``: on
  every text, prompts and completions;
- ``jailbreak`` (a direct prompt attack): on what users wrote (user messages, the prompt of a
  text completion);
- ``indirect_attack``: on documents — tool and function results, and text a user wrapped in
  ``<documents>…</documents>`` as Azure asks;
- PII and custom blocklists: on every text.

``mode: annotate`` reports everything and changes nothing (no block, no redaction).
Long texts are classified in overlapping chunks, and the worst chunk counts: nothing past a
length limit goes unchecked.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from atrium.safety.blocklist import Blocklist
from atrium.safety.classifier import (
    DETECTION_LABELS,
    SEVERITY_ORDER,
    ClassifierError,
    TextClassifier,
    Verdict,
    severity_at_least,
)
from atrium.safety.pii import PII_TYPES, PiiMatch, PiiType, find_pii, redact
from atrium.safety.policy import ContentPolicySettings
from atrium.safety.results import (
    HARM_CATEGORIES,
    BlocklistCheck,
    DetectionCheck,
    FilterError,
    FilterResults,
    PiiCheck,
    SeverityCheck,
)

logger = logging.getLogger(__name__)

Direction = Literal["prompt", "completion"]
Source = Literal["system", "user", "assistant", "tool", "document", "completion"]
# What Azure says when a filter did not run.
FILTER_ERROR = FilterError("content_filter_error", "The contents are not filtered")
DOCUMENTS_OPEN, DOCUMENTS_CLOSE = "<documents>", "</documents>"
ATTACK_SOURCES: Mapping[str, frozenset[str]] = {
    "jailbreak": frozenset({"user"}),
    "indirect_attack": frozenset({"tool", "document"}),
}
BLOCKLIST_CACHE_SIZE = 64
# Streamed text kept back from each window, so that personal data cut by a window boundary is
# seen whole (and redacted) with the next window rather than released in halves.
STREAM_HOLDBACK_CHARS = 48
# Completions are also classified in short overlapping pieces: a harmful sentence after a few
# hundred characters of harmless text is diluted in the whole text's features (a knife threat
# after three sentences of weather report scored violence "low"), not in its own piece. A
# short piece has little context, so it counts one level lower unless it is "high": it adds
# clear harm without adding the borderline calls of short fragments.
FINE_CHUNK_CHARS = 160
FINE_CHUNK_OVERLAP = 60


@dataclass(frozen=True, slots=True)
class Segment:
    """One text to screen and who wrote it."""

    text: str
    source: Source


@dataclass(frozen=True, slots=True)
class Screening:
    """The results for the texts, and the texts as they may go on (after redaction)."""

    results: FilterResults
    texts: tuple[str, ...]

    @property
    def blocked(self) -> bool:
        return self.results.filtered


@dataclass(frozen=True, slots=True)
class WindowScreening:
    """One window of a streamed completion: its results, the text that may be released now
    (redacted) and the text held back for the next window."""

    results: FilterResults
    released: str
    held: str

    @property
    def blocked(self) -> bool:
        return self.results.filtered


@dataclass(slots=True)
class _Labels:
    """Merged verdicts of every classifier for one segment."""

    verdicts: dict[str, Verdict] = field(default_factory=dict)

    def add(self, verdict: Verdict) -> None:
        known = self.verdicts.get(verdict.label)
        if known is None or _rank(verdict) > _rank(known):
            self.verdicts[verdict.label] = verdict


def _one_level_lower(verdict: Verdict) -> Verdict:
    """A short piece's harm verdict: ``medium`` counts as ``low`` (``high`` stays)."""
    if verdict.severity == "medium":
        return replace(verdict, severity="low")
    return verdict


def _rank(verdict: Verdict) -> tuple[int, bool, float]:
    severity = SEVERITY_ORDER.index(verdict.severity) if verdict.severity else 0
    return severity, verdict.detected, verdict.confidence


def documents_in(text: str) -> list[str]:
    """The ``<documents>…</documents>`` sections of a user message (Azure's convention for
    grounding data that prompt shields check for indirect attacks)."""
    found = []
    position = 0
    while (start := text.find(DOCUMENTS_OPEN, position)) != -1:
        start += len(DOCUMENTS_OPEN)
        end = text.find(DOCUMENTS_CLOSE, start)
        if end == -1:
            found.append(text[start:])
            break
        found.append(text[start:end])
        position = end + len(DOCUMENTS_CLOSE)
    return found


def chunks(text: str, size: int, overlap: int) -> list[str]:
    """``text`` in pieces of at most ``size`` characters, each overlapping the one before by
    ``overlap`` so that nothing straddling a boundary is seen only in halves."""
    if len(text) <= size:
        return [text]
    step = size - overlap
    return [text[start : start + size] for start in range(0, len(text) - overlap, step)]


class ContentFilter:
    """Screens texts against a policy with the configured classifiers (thread-safe)."""

    def __init__(
        self,
        classifiers: Sequence[TextClassifier],
        *,
        chunk_chars: int = 2000,
        chunk_overlap: int = 200,
    ) -> None:
        self.classifiers = tuple(classifiers)
        self.chunk_chars = chunk_chars
        self.chunk_overlap = chunk_overlap
        self._blocklists: OrderedDict[str, tuple[Blocklist, ...]] = OrderedDict()
        self._blocklists_lock = threading.Lock()

    def screen(
        self, policy: ContentPolicySettings, direction: Direction, segments: Sequence[Segment]
    ) -> Screening:
        """Every check of ``policy`` on the texts of one prompt or one whole completion."""
        texts = tuple(segment.text for segment in segments)
        results = self._assess(policy, direction, segments)
        pii, texts = _pii(policy, texts)
        return Screening(_with_pii(results, pii), texts)

    def screen_window(
        self, policy: ContentPolicySettings, tail: str, pending: str, *, final: bool
    ) -> WindowScreening:
        """Check streamed completion text: ``tail`` is the end of what was already released
        (context for the classifiers), ``pending`` the new text. Unless ``final``, the last
        ``STREAM_HOLDBACK_CHARS`` are held back (and any personal data reaching into them)."""
        text = tail + pending
        results = self._assess(policy, "completion", [Segment(text, "completion")])
        wanted = _wanted_pii(policy)
        matches = find_pii(text, wanted) if wanted else []
        cut = len(text) if final else max(len(tail), len(text) - STREAM_HOLDBACK_CHARS)
        for match in matches:
            if match.start < cut < match.end:
                cut = max(len(tail), match.start)
        inside = [m for m in matches if m.start >= len(tail) and m.end <= cut]
        released = text[len(tail) : cut]
        pii = None
        if wanted:
            pii, redacted = _act_on_pii(policy, [(released, _shifted(inside, len(tail)))])
            released = redacted[0]
        return WindowScreening(_with_pii(results, pii), released, text[cut:])

    def _assess(
        self, policy: ContentPolicySettings, direction: Direction, segments: Sequence[Segment]
    ) -> FilterResults:
        """Classifier verdicts and blocklists, judged by the policy (no PII yet)."""
        expanded = _with_documents(segments) if policy.indirect_attack else list(segments)
        labels, error = self._classify(expanded, fine=direction == "completion")
        return FilterResults(
            categories=_categories(policy, direction, labels),
            detections=_detections(policy, direction, expanded, labels),
            blocklists=self._blocklist_checks(policy, [segment.text for segment in segments]),
            error=error,
            refused_on_error=error is not None and policy.on_classifier_error == "fail_closed",
        )

    def _pieces(self, text: str, *, fine: bool) -> list[tuple[str, bool]]:
        """``(piece, short)``: the text in classifier-sized chunks, then (``fine``) in short
        pieces."""
        found = [(piece, False) for piece in chunks(text, self.chunk_chars, self.chunk_overlap)]
        if fine and len(text) > FINE_CHUNK_CHARS:
            found += [(p, True) for p in chunks(text, FINE_CHUNK_CHARS, FINE_CHUNK_OVERLAP)]
        return found

    def _classify(
        self, segments: Sequence[Segment], *, fine: bool = False
    ) -> tuple[list[_Labels], FilterError | None]:
        """Merged verdicts per segment (the worst piece wins; ``fine``: short pieces too); a
        failing classifier leaves its labels out and the error is reported (never read as
        "clean")."""
        pieces: list[str] = []
        owners: list[tuple[int, bool]] = []
        for index, segment in enumerate(segments):
            for piece, short in self._pieces(segment.text, fine=fine):
                if piece.strip():
                    pieces.append(piece)
                    owners.append((index, short))
        labels = [_Labels() for _ in segments]
        error: FilterError | None = None
        if not pieces:
            return labels, None
        for classifier in self.classifiers:
            try:
                verdicts = classifier.classify(pieces)
            except ClassifierError as exc:
                logger.warning("content classifier %r failed: %s", classifier.name, exc)
                error = FILTER_ERROR
                continue
            if len(verdicts) != len(pieces):
                logger.warning("content classifier %r answered the wrong count", classifier.name)
                error = FILTER_ERROR
                continue
            for (owner, short), piece_verdicts in zip(owners, verdicts, strict=True):
                for verdict in piece_verdicts.values():
                    labels[owner].add(_one_level_lower(verdict) if short else verdict)
        return labels, error

    def _compiled_blocklists(self, policy: ContentPolicySettings) -> tuple[Blocklist, ...]:
        if not policy.blocklists:
            return ()
        key = "\x1f".join(b.model_dump_json() for b in policy.blocklists)
        with self._blocklists_lock:
            cached = self._blocklists.get(key)
            if cached is not None:
                self._blocklists.move_to_end(key)
                return cached
        compiled = tuple(Blocklist(b.name, b.terms, b.patterns) for b in policy.blocklists)
        with self._blocklists_lock:
            self._blocklists[key] = compiled
            while len(self._blocklists) > BLOCKLIST_CACHE_SIZE:
                self._blocklists.popitem(last=False)
        return compiled

    def _blocklist_checks(
        self, policy: ContentPolicySettings, texts: Sequence[str]
    ) -> tuple[BlocklistCheck, ...]:
        blocking = policy.mode == "block"
        return tuple(
            BlocklistCheck(blocklist.name, filtered=blocking)
            for blocklist in self._compiled_blocklists(policy)
            if any(blocklist.find(text) for text in texts)
        )


def _with_documents(segments: Sequence[Segment]) -> list[Segment]:
    expanded = list(segments)
    for segment in segments:
        if segment.source == "user" and DOCUMENTS_OPEN in segment.text:
            expanded.extend(Segment(text, "document") for text in documents_in(segment.text))
    return expanded


def _categories(
    policy: ContentPolicySettings, direction: Direction, labels: Sequence[_Labels]
) -> dict[str, SeverityCheck]:
    categories: dict[str, SeverityCheck] = {}
    for category in HARM_CATEGORIES:
        severities = [
            verdict.severity
            for segment in labels
            if (verdict := segment.verdicts.get(category)) is not None and verdict.severity
        ]
        if not severities:
            continue
        worst = max(severities, key=SEVERITY_ORDER.index)
        thresholds = getattr(policy, category)
        threshold = thresholds.prompt if direction == "prompt" else thresholds.completion
        filtered = (
            policy.mode == "block"
            and threshold != "off"
            and worst != "safe"
            and severity_at_least(worst, threshold)
        )
        categories[category] = SeverityCheck(worst, filtered)
    return categories


def _detection_enabled(policy: ContentPolicySettings, direction: Direction, label: str) -> bool:
    if label == "profanity":
        return policy.profanity != "off"
    return direction == "prompt" and bool(getattr(policy, label))


def _detections(
    policy: ContentPolicySettings,
    direction: Direction,
    segments: Sequence[Segment],
    labels: Sequence[_Labels],
) -> dict[str, DetectionCheck]:
    detections: dict[str, DetectionCheck] = {}
    for label in DETECTION_LABELS:
        if not _detection_enabled(policy, direction, label):
            continue
        sources = ATTACK_SOURCES.get(label)
        verdicts = [
            verdict
            for segment, merged in zip(segments, labels, strict=True)
            if sources is None or segment.source in sources
            if (verdict := merged.verdicts.get(label)) is not None
        ]
        if not verdicts and not any(label in merged.verdicts for merged in labels):
            continue  # no classifier answered for this label: nothing to report
        detected = any(verdict.detected for verdict in verdicts)
        blocks = policy.profanity == "block" if label == "profanity" else True
        detections[label] = DetectionCheck(
            detected, filtered=detected and blocks and policy.mode == "block"
        )
    return detections


def _with_pii(results: FilterResults, pii: PiiCheck | None) -> FilterResults:
    return results if pii is None else replace(results, pii=pii)


def _wanted_pii(policy: ContentPolicySettings) -> list[PiiType]:
    """The kinds of personal data the policy looks for (any action but ``off``)."""
    actions = policy.pii.model_dump()
    return [kind for kind in PII_TYPES if actions[kind] != "off"]


def _shifted(matches: Sequence[PiiMatch], offset: int) -> list[PiiMatch]:
    return [replace(m, start=m.start - offset, end=m.end - offset) for m in matches]


def _act_on_pii(
    policy: ContentPolicySettings, found: Sequence[tuple[str, Sequence[PiiMatch]]]
) -> tuple[PiiCheck, tuple[str, ...]]:
    """The PII result over texts with their matches, and the texts after redaction."""
    actions = policy.pii.model_dump()
    changing = policy.mode == "block"
    redacting = [kind for kind in PII_TYPES if actions[kind] == "redact"]
    kinds: set[str] = set()
    texts = []
    for text, matches in found:
        kinds.update(match.type for match in matches)
        if changing and any(match.type in redacting for match in matches):
            texts.append(redact(text, matches, redacting))
        else:
            texts.append(text)
    types = tuple(kind for kind in PII_TYPES if kind in kinds)
    check = PiiCheck(
        detected=bool(types),
        types=types,
        redacted=changing and any(actions[kind] == "redact" for kind in types),
        filtered=changing and any(actions[kind] == "block" for kind in types),
    )
    return check, tuple(texts)


def _pii(
    policy: ContentPolicySettings, texts: tuple[str, ...]
) -> tuple[PiiCheck | None, tuple[str, ...]]:
    wanted = _wanted_pii(policy)
    if not wanted or not texts:
        return None, texts
    return _act_on_pii(policy, [(text, find_pii(text, wanted)) for text in texts])
