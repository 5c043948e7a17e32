"""Export alt-profanity-check 1.9.1 (MIT) into plain arrays: no pickle at run time.

The package's model is a scikit-learn ``TfidfVectorizer`` (word unigrams, English stop
words, l2 norm) and a ``CalibratedClassifierCV`` of five ``LinearSVC`` with sigmoid
calibration. We read both joblib files straight from the wheel once, at training time, and
keep: the vocabulary and idf, the five coefficient vectors and intercepts, and the five
(a, b) calibration pairs. ``atrium.safety.linear`` re-creates ``predict_proba`` from them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import joblib
import numpy as np
import numpy.typing as npt

from training.safety.sources import WheelFiles

PACKAGE = "alt-profanity-check"
VECTORIZER = "profanity_check/data/vectorizer.joblib"
MODEL = "profanity_check/data/model.joblib"


@dataclass(frozen=True, slots=True)
class ProfanityExport:
    vocabulary: list[str]
    idf: npt.NDArray[np.float32]
    coefficients: npt.NDArray[np.float32]  # (vocabulary, members)
    intercepts: npt.NDArray[np.float32]  # (members,)
    calibration: list[tuple[float, float]]
    token_pattern: str
    reference: Any  # (vectorizer, model) to check the export against

    def predict_proba(self, texts: list[str]) -> npt.NDArray[np.float64]:
        """The original package's probability (for the export check only)."""
        vectorizer, model = self.reference
        probabilities: npt.NDArray[np.float64] = model.predict_proba(vectorizer.transform(texts))
        return probabilities[:, 1]


def export(files: WheelFiles) -> ProfanityExport:
    vectorizer = joblib.load(io.BytesIO(files.read_bytes(PACKAGE, VECTORIZER)))
    model = joblib.load(io.BytesIO(files.read_bytes(PACKAGE, MODEL)))
    params = vectorizer.get_params()
    expected = {"analyzer": "word", "ngram_range": (1, 1), "norm": "l2", "lowercase": True}
    if any(params[key] != value for key, value in expected.items()) or params["sublinear_tf"]:
        raise ValueError(f"unexpected alt-profanity-check vectorizer: {params}")
    order = sorted(vectorizer.vocabulary_.items(), key=lambda item: item[1])
    coefficients, intercepts, calibration = [], [], []
    for member in model.calibrated_classifiers_:
        (calibrator,) = member.calibrators
        coefficients.append(member.estimator.coef_[0])
        intercepts.append(member.estimator.intercept_[0])
        calibration.append((float(calibrator.a_), float(calibrator.b_)))
    return ProfanityExport(
        vocabulary=[term for term, _ in order],
        idf=np.asarray(vectorizer.idf_, np.float32),
        coefficients=np.asarray(coefficients, np.float32).T,
        intercepts=np.asarray(intercepts, np.float32),
        calibration=calibration,
        token_pattern=params["token_pattern"],
        reference=(vectorizer, model),
    )
