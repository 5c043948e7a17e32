"""Per-request sampler chains, built from ``SamplingParams``.

The chain runs inside llama.cpp (no per-token Python work over the vocabulary):
penalties (presence/frequency, only when asked), temperature, top-p, then a seeded draw —
or a plain argmax when ``temperature == 0``. Temperature comes before top-p, as in OpenAI's
API, vLLM and transformers, so top-p cuts the distribution the draw actually uses.
"""

from __future__ import annotations

import secrets

from atrium.engines.base import SamplingParams
from atrium.engines.llamacpp.model import LlamaModel, SamplerChain

_SEED_RANGE = 0xFFFFFFFF
"""llama.cpp seeds are uint32 and 0xFFFFFFFF means "pick one at random", so client seeds
are folded into [0, 0xFFFFFFFF)."""


def resolve_seed(seed: int | None) -> int:
    """The uint32 seed for llama.cpp: a fresh random one when ``seed`` is None."""
    if seed is None:
        return secrets.randbelow(_SEED_RANGE)
    return seed % _SEED_RANGE


def build_sampler(model: LlamaModel, params: SamplingParams) -> SamplerChain:
    """A new sampler chain for one sequence; the caller frees it when the sequence ends."""
    chain = model.new_sampler_chain()
    try:
        if params.presence_penalty or params.frequency_penalty:
            chain.add_penalties(
                n_vocab=model.n_vocab,
                last_n=model.n_ctx,
                repeat=1.0,
                frequency=params.frequency_penalty,
                presence=params.presence_penalty,
            )
        if params.temperature <= 0:
            chain.add_greedy()
            return chain
        if params.temperature != 1.0:
            chain.add_temperature(params.temperature)
        if params.top_p < 1.0:
            chain.add_top_p(params.top_p)
        chain.add_dist(resolve_seed(params.seed))
    except BaseException:
        chain.free()
        raise
    return chain
