"""Cut points chosen on the VALIDATION split.

Harm categories: ``medium`` (the operating point the default policy blocks at) maximises F1;
``low`` is the lowest threshold whose false-positive rate is ≤ 2 % (capped at ``medium``),
so that "low" stays rare on benign text;
``high`` is the lowest threshold with precision ≥ 0.95 (at least ``medium``).
Detections: the lowest threshold ≥ 0.5 with FPR ≤ 1 % on all validation negatives and
≤ 2 % on the hard negatives (agent/system prompts, bastion benign).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

LOW_MAX_FPR = 0.02
GRID = np.round(np.arange(0.05, 0.991, 0.01), 2)
Labels = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]


def _rates(y: Labels, scores: Scores, threshold: float) -> tuple[float, float, float, float]:
    """precision, recall, F1, FPR at ``threshold``."""
    predicted = scores >= threshold
    tp = int((predicted & (y == 1)).sum())
    fp = int((predicted & (y == 0)).sum())
    fn = int((~predicted & (y == 1)).sum())
    negatives = int((y == 0).sum())
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, (fp / negatives if negatives else 0.0)


def harm_cut_points(y: Labels, scores: Scores) -> dict[str, float]:
    f1s = [_rates(y, scores, t)[2] for t in GRID]
    medium = float(GRID[int(np.argmax(f1s))])
    quiet = [float(t) for t in GRID if _rates(y, scores, t)[3] <= LOW_MAX_FPR]
    low = min(min(quiet, default=medium), medium)
    precise = [float(t) for t in GRID if t >= medium and _rates(y, scores, t)[0] >= 0.95]
    high = min(precise, default=max(medium, 0.9))
    return {"low": low, "medium": medium, "high": max(high, medium)}


def detection_threshold(y: Labels, scores: Scores, hard: npt.NDArray[np.bool_]) -> dict[str, float]:
    negatives = scores[y == 0]
    hard_negatives = scores[(y == 0) & hard]
    for t in GRID[GRID >= 0.5]:
        fpr_all = float((negatives >= t).mean()) if len(negatives) else 0.0
        fpr_hard = float((hard_negatives >= t).mean()) if len(hard_negatives) else 0.0
        if fpr_all <= 0.01 and fpr_hard <= 0.02:
            return {"detected": float(t)}
    return {"detected": float(GRID[-1])}


def describe(y: Labels, scores: Scores, cuts: dict[str, float]) -> dict[str, Any]:
    operating = cuts.get("medium", cuts.get("detected", 0.5))
    precision, recall, f1, fpr = _rates(y, scores, operating)
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "fpr": round(fpr, 4),
    }
