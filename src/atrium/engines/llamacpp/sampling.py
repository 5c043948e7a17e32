"""Per-request sampler chains, built from ``SamplingParams``.

The chain runs inside llama.cpp (no per-token Python work over the vocabulary):
logit bias, penalties (only when asked), the output grammar (when given), top-k,
temperature, top-p, min-p, then a seeded draw — or a plain argmax when
``temperature == 0`` (after bias, penalties and grammar). Temperature comes before top-p and
min-p, as in OpenAI's API, vLLM and transformers, so they cut the
distribution the draw actually uses.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from atrium.engines.base import SamplingParams
from atrium.engines.llamacpp.model import LlamaModel
from atrium.engines.llamacpp.sampler_chain import SamplerChain

_SEED_RANGE = 0xFFFFFFFF
"""llama.cpp seeds are uint32 and 0xFFFFFFFF means "pick one at random", so client seeds
are folded into [0, 0xFFFFFFFF)."""


def resolve_seed(seed: int | None) -> int:
    """The uint32 seed for llama.cpp: a fresh random one when ``seed`` is None."""
    if seed is None:
        return secrets.randbelow(_SEED_RANGE)
    return seed % _SEED_RANGE


def choice_seed(seed: int | None, choice: int) -> int:
    """The seed of choice ``choice``: ``seed + choice`` (random when no seed is given)."""
    return resolve_seed(None if seed is None else seed + choice)


def build_sampler(
    model: LlamaModel, params: SamplingParams, *, seed: int, prompt: Sequence[int], window: int
) -> SamplerChain:
    """A new sampler chain for one sequence; the caller frees it when the sequence ends.

    ``window`` is how many recent tokens the penalties look at. The repetition penalty
    counts the prompt too (as vLLM and transformers do); presence and frequency penalties
    only the generated tokens (as OpenAI describes them).
    """
    chain = model.new_sampler_chain()
    try:
        if params.logit_bias:
            chain.add_logit_bias(params.logit_bias)
        if params.repetition_penalty != 1.0:
            chain.add_penalties(
                last_n=window,
                repeat=params.repetition_penalty,
                frequency=0.0,
                presence=0.0,
                history=prompt[-window:],
            )
        if params.presence_penalty or params.frequency_penalty:
            chain.add_penalties(
                last_n=window,
                repeat=1.0,
                frequency=params.frequency_penalty,
                presence=params.presence_penalty,
            )
        if params.grammar is not None:  # on the whole vocabulary, before any cut
            chain.add_grammar(params.grammar)
        if params.temperature <= 0:
            chain.add_greedy()
            return chain
        if params.top_k > 0:
            chain.add_top_k(params.top_k)
        if params.temperature != 1.0:
            chain.add_temperature(params.temperature)
        if params.top_p < 1.0:
            chain.add_top_p(params.top_p)
        if params.min_p > 0.0:
            chain.add_min_p(params.min_p)
        chain.add_dist(seed)
    except BaseException:
        chain.free()
        raise
    return chain
