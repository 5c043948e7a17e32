"""Train the default content classifier and write ``src/atrium/safety/models/linear.{npz,json}``.

    .venv/bin/pip install -e ".[training]"
    .venv/bin/python -m training.safety.train            # ~2-4 minutes on 2 cores

Steps: fetch and verify the pinned wheels, build the split (``dataset.py``), fit the idf of
the hashed blocks on TRAIN, export alt-profanity-check (``profanity.py``), fit one logistic
regression per label on TRAIN (C picked on VALIDATION by average precision), choose the
cut points on VALIDATION, and write float16 weights plus a JSON manifest. EVAL is not read.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score

from atrium.safety.linear import (
    Featurizer,
    HashedBlock,
    LinearModel,
    VocabularyBlock,
    parse_heads,
)
from atrium.safety.linear import build_featurizer as build_runtime_featurizer
from training.safety import dataset, thresholds
from training.safety.corpora import HARMS, TRAINED_LABELS, Sample
from training.safety.profanity import ProfanityExport, export
from training.safety.sources import DEFAULT_CACHE, WHEELS, WheelFiles

MODELS_DIR = Path("src/atrium/safety/models")
VERSION = "1"
HASHED_BLOCKS: list[dict[str, Any]] = [
    {"name": "char", "kind": "hashed", "analyzer": "char_wb", "ngram_range": [3, 5]},
    {"name": "word", "kind": "hashed", "analyzer": "word", "ngram_range": [1, 2]},
]
HASHED_BLOCKS[0]["n_features"] = 2**17
HASHED_BLOCKS[1]["n_features"] = 2**16
MIN_DF = 2
C_GRID = (2.0, 8.0, 32.0)
Floats = npt.NDArray[np.float32]


def fit_idf(block: HashedBlock, texts: Sequence[str]) -> Floats:
    """Smoothed idf as scikit-learn computes it; buckets seen in < MIN_DF texts get 0."""
    counts = block.counts(texts)
    df = np.bincount(counts.indices, minlength=block.size)
    idf = np.log((1 + len(texts)) / (1 + df)) + 1.0
    idf[df < MIN_DF] = 0.0
    return idf.astype(np.float32)


def build_featurizer(train_texts: Sequence[str], profanity: ProfanityExport) -> Featurizer:
    blocks: list[HashedBlock | VocabularyBlock] = []
    for config in HASHED_BLOCKS:
        block = HashedBlock(config, None)
        block.idf = fit_idf(block, train_texts)
        blocks.append(block)
    vocabulary_config = {
        "name": "profanity",
        "kind": "vocabulary",
        "token_pattern": profanity.token_pattern,
    }
    blocks.append(VocabularyBlock(vocabulary_config, profanity.vocabulary, profanity.idf))
    return Featurizer(blocks)


def _known(samples: Sequence[Sample], label: str) -> tuple[npt.NDArray[np.int64], list[int]]:
    rows = [i for i, s in enumerate(samples) if label in s.labels]
    return np.asarray(rows, np.int64), [samples[i].labels[label] for i in rows]


def fit_head(
    label: str, train: tuple[sp.csr_matrix, list[Sample]], val: tuple[sp.csr_matrix, list[Sample]]
) -> tuple[LogisticRegression, float, dict[str, Any]]:
    """The logistic regression for one label, C chosen by validation average precision."""
    x_train, train_samples = train
    x_val, val_samples = val
    rows, y = _known(train_samples, label)
    val_rows, y_val = _known(val_samples, label)
    best: tuple[float, float, LogisticRegression] | None = None
    for c in C_GRID:
        model = LogisticRegression(
            C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=0
        )
        model.fit(x_train[rows], y)
        score = float(average_precision_score(y_val, model.predict_proba(x_val[val_rows])[:, 1]))
        if best is None or score > best[0]:
            best = (score, c, model)
    assert best is not None
    score, c, model = best
    info = {"C": c, "val_average_precision": round(score, 4), "train_rows": len(rows)}
    info["train_positives"] = int(sum(y))
    return model, c, info


def wheel_provenance() -> dict[str, dict[str, str]]:
    return {
        name: {"version": w.version, "file": w.filename, "sha256": w.sha256, "licence": w.licence}
        for name, w in WHEELS.items()
    }


def _eval_file_digest() -> dict[str, str]:
    paths = (dataset.EVAL_AGENT_PROMPTS, dataset.EVAL_BENIGN_EDGY)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def train(cache_dir: Path, out_dir: Path) -> dict[str, Any]:
    data = dataset.build(cache_dir)
    train_samples, val_samples = data.part("train"), data.part("val")
    profanity = export(WheelFiles(cache_dir))
    featurizer = build_featurizer([s.text for s in train_samples], profanity)
    x_train = featurizer.transform([s.text for s in train_samples])
    x_val = featurizer.transform([s.text for s in val_samples])
    columns: list[Floats] = []
    biases: list[float] = []
    heads: list[dict[str, Any]] = []
    for label in TRAINED_LABELS:
        model, _, info = fit_head(label, (x_train, train_samples), (x_val, val_samples))
        columns.append(model.coef_[0].astype(np.float32))
        biases.append(float(model.intercept_[0]))
        rows, y_val = _known(val_samples, label)
        scores = model.predict_proba(x_val[rows])[:, 1]
        hard = np.asarray([val_samples[i].source.startswith(HARD_SOURCES) for i in rows])
        if label in HARMS:
            cuts = thresholds.harm_cut_points(np.asarray(y_val), scores)
        else:
            cuts = thresholds.detection_threshold(np.asarray(y_val), scores, hard)
        info["validation"] = thresholds.describe(np.asarray(y_val), scores, cuts)
        heads.append({"label": label, "columns": [len(columns) - 1], "thresholds": cuts, **info})
    manifest = _write(
        out_dir,
        featurizer=featurizer,
        profanity=profanity,
        columns=columns,
        biases=biases,
        heads=heads,
    )
    manifest["training_data"] = dataset.summary(data)
    manifest_path = out_dir / "linear.json"
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    manifest["profanity_export_max_abs_error"] = check_profanity_export(out_dir, profanity)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


HARD_SOURCES = ("synthetic:agent_prompts", "nemoguardrails", "inspect_evals:tau2", "bastioncorpus")


def _write(
    out_dir: Path,
    *,
    featurizer: Featurizer,
    profanity: ProfanityExport,
    columns: list[Floats],
    biases: list[float],
    heads: list[dict[str, Any]],
) -> dict[str, Any]:
    hashed_rows = sum(b.size for b in featurizer.blocks if isinstance(b, HashedBlock))
    n_trained = len(columns)
    n_members = profanity.coefficients.shape[1]
    weights = np.zeros((featurizer.size, n_trained + n_members), np.float16)
    weights[:, :n_trained] = np.stack(columns, axis=1)
    weights[hashed_rows:, n_trained:] = profanity.coefficients
    bias = np.concatenate([np.asarray(biases, np.float32), profanity.intercepts])
    heads.append(
        {
            "label": "profanity",
            "columns": list(range(n_trained, n_trained + n_members)),
            "calibration": [list(pair) for pair in profanity.calibration],
            "thresholds": {"detected": 0.5},
            "source": "alt-profanity-check 1.9.1 (MIT), exported coefficients",
        }
    )
    arrays: dict[str, npt.NDArray[Any]] = {"weights": weights, "bias": bias}
    for block in featurizer.blocks:
        assert block.idf is not None
        arrays[f"idf_{block.config['name']}"] = block.idf.astype(np.float32)
    arrays["vocabulary_profanity"] = np.asarray(profanity.vocabulary, dtype=str)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / "linear.npz", **arrays)  # type: ignore[arg-type]
    return {
        "name": "linear",
        "version": VERSION,
        "created": datetime.date.today().isoformat(),
        "weights_file": "linear.npz",
        "weights_sha256": hashlib.sha256((out_dir / "linear.npz").read_bytes()).hexdigest(),
        "featurizer": {"blocks": [block.config for block in featurizer.blocks], "min_df": MIN_DF},
        "heads": heads,
        "trainer": {"scikit_learn": sklearn.__version__, "model": "LogisticRegression(liblinear)"},
        "command": "python -m training.safety.train",
        "data_wheels": wheel_provenance(),
        "eval_files_sha256": _eval_file_digest(),
    }


PROFANITY_PROBES = [
    "have a nice day",
    "you are a fucking idiot",
    "this is shit",
    "what a lovely garden",
    "shut up you dumb bitch",
    "the meeting moved to 3pm",
]


def check_profanity_export(out_dir: Path, profanity: ProfanityExport) -> float:
    """The exported profanity head must reproduce alt-profanity-check's probabilities."""
    model = load_model_from(out_dir)
    ours = model.probabilities(PROFANITY_PROBES)["profanity"]
    reference = profanity.predict_proba(PROFANITY_PROBES)
    error = float(np.max(np.abs(ours - reference)))
    if error > 0.01:
        raise ValueError(f"profanity export differs from alt-profanity-check by {error:.4f}")
    return round(error, 6)


def load_model_from(out_dir: Path) -> LinearModel:
    manifest = json.loads((out_dir / "linear.json").read_text(encoding="utf-8"))
    with np.load(out_dir / manifest["weights_file"], allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    featurizer = build_runtime_featurizer(manifest["featurizer"]["blocks"], arrays)
    heads = parse_heads(manifest)
    weights = np.asarray(arrays["weights"], np.float32)
    return LinearModel(manifest, featurizer, weights, arrays["bias"], heads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out-dir", type=Path, default=MODELS_DIR)
    args = parser.parse_args()
    manifest = train(args.cache_dir, args.out_dir)
    for head in manifest["heads"]:
        print(head["label"], head["thresholds"], head.get("validation", ""))


if __name__ == "__main__":
    main()
