#!/usr/bin/env python3
"""What the content filter adds to one request: the whole prompt check (classifier, PII,
blocklists, policy) on a 2,000-character prompt, with the trained default classifier.

    .venv/bin/python benchmarks/safety_latency.py [--runs 300] [--chars 2000]

Prints p50/p99 per policy: the built-in default, and a strict one with every PII kind and
a blocklist on. Also one streamed-completion window (100 new characters + 200 of context).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from atrium.safety.linear import LinearClassifier
from atrium.safety.pipeline import ContentFilter, Segment
from atrium.safety.policy import (
    DEFAULT_POLICY,
    BlocklistSettings,
    ContentPolicySettings,
    PiiActions,
)

PARAGRAPH = (
    "You are a helpful assistant for the operations team. Summarise the incident report "
    "below in three bullet points, name the services affected, and suggest one follow-up "
    "action. Contact ops-oncall@example.com or +44 20 7946 0958 if anything is unclear. "
)
STRICT = ContentPolicySettings(
    pii=PiiActions(
        email="redact",
        phone="redact",
        payment_card="block",
        iban="block",
        national_id="redact",
        ip_address="annotate",
        secret="block",
    ),
    indirect_attack=True,
    blocklists=[
        BlocklistSettings(
            name="internal",
            terms=["Project Falcon", "Bluebird"],
            patterns=[r"\bACME-[0-9]{4}\b"],
        )
    ],
)


def prompt_of(chars: int) -> str:
    text = PARAGRAPH * (chars // len(PARAGRAPH) + 1)
    return text[:chars]


def timed(call: Callable[[], object], runs: int) -> list[float]:
    for _ in range(20):
        call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def report(label: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    print(f"{label:<52}{statistics.median(samples):>8.2f} ms{p99:>9.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--chars", type=int, default=2000)
    args = parser.parse_args()
    content_filter = ContentFilter([LinearClassifier()])
    prompt = prompt_of(args.chars)
    segments = [
        Segment("You are a careful assistant. Answer briefly.", "system"),
        Segment(prompt, "user"),
    ]
    print(f"prompt: {len(prompt)} characters (+ a short system message), {args.runs} runs")
    print(f"{'check':<52}{'p50':>11}{'p99':>12}")
    policies = (
        ("prompt check, default policy", DEFAULT_POLICY),
        ("prompt check, strict policy (all PII, blocklist)", STRICT),
    )
    for label, policy in policies:
        samples = timed(lambda p=policy: content_filter.screen(p, "prompt", segments), args.runs)
        report(label, samples)
    tail, window = prompt[:200], prompt[200:300]
    samples = timed(
        lambda: content_filter.screen_window(DEFAULT_POLICY, tail, window, final=False), args.runs
    )
    report("one stream window (100 new + 200 context chars)", samples)


if __name__ == "__main__":
    main()
