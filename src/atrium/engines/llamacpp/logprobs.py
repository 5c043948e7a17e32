"""Log-probabilities of sampled tokens, from a sequence's raw logits.

Only requests that ask for logprobs pay for this: one log-softmax over the vocabulary (in
numpy) per generated token. The values are those of the model's distribution, before any
sampling transformation (temperature, penalties, bias), as OpenAI and vLLM report them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from atrium.engines.base import TokenLogprob, TopLogprob

MAX_TOP_LOGPROBS = 20


def token_logprob(
    logits: npt.NDArray[np.float32],
    token: int,
    top: int,
    piece: Callable[[int], bytes],
) -> TokenLogprob:
    """The logprob of ``token`` and the ``top`` most likely tokens (most likely first)."""
    values = logits.astype(np.float64)
    peak = float(values.max())
    log_total = peak + float(np.log(np.exp(values - peak).sum()))
    top_entries: tuple[TopLogprob, ...] = ()
    if top > 0:
        count = min(top, values.shape[0])
        candidates = np.argpartition(-values, count - 1)[:count]
        ordered = candidates[np.argsort(-values[candidates], kind="stable")]
        top_entries = tuple(
            _top_entry(int(candidate), float(values[candidate]) - log_total, piece)
            for candidate in ordered
        )
    raw = piece(token)
    return TokenLogprob(
        token_id=token,
        token=raw.decode("utf-8", errors="replace"),
        bytes=raw,
        logprob=float(values[token]) - log_total,
        top=top_entries,
    )


def _top_entry(token: int, logprob: float, piece: Callable[[int], bytes]) -> TopLogprob:
    raw = piece(token)
    return TopLogprob(
        token_id=token, token=raw.decode("utf-8", errors="replace"), bytes=raw, logprob=logprob
    )
