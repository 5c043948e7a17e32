"""MiniLM sentence embeddings of the training texts, cached on disk between runs.

The vectors come from the same int8 ONNX encoder the classifier runs
(``atrium.safety.models.minilm``), so the heads are trained on what is served. The cache
(``<cache-dir>/embeddings-<tokens>-<weights sha>.npz``) maps the sha256 of a text to its
vector; it only saves time, a missing cache gives the same numbers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from atrium.safety.models.minilm import BUILDER_VERSION, MiniLMEncoder

Floats = npt.NDArray[np.float32]


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def embed(encoder: MiniLMEncoder, texts: Sequence[str], cache_dir: Path) -> Floats:
    name = f"embeddings-{encoder.max_tokens}-{encoder.source_sha256[:16]}-b{BUILDER_VERSION}.npz"
    path = cache_dir / name
    known: dict[str, Floats] = {}
    if path.exists():
        with np.load(path, allow_pickle=False) as npz:
            known = dict(zip(npz["keys"].tolist(), npz["vectors"], strict=True))
    keys = [_key(t) for t in texts]
    missing = [(k, t) for k, t in zip(keys, texts, strict=True) if k not in known]
    if missing:
        unique = dict(missing)
        vectors = encoder.encode(list(unique.values()))
        known.update(zip(unique.keys(), vectors, strict=True))
        ordered = sorted(known)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.asarray(ordered), vectors=np.stack([known[k] for k in ordered]))
        tmp.replace(path)
    return np.stack([known[k] for k in keys]).astype(np.float32)
