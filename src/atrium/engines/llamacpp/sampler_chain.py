"""A typed wrapper of a llama.cpp sampler chain (with ``model``, the only code that calls
llama-cpp-python's low-level API). Must be used from the scheduler thread."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import llama_cpp

from atrium.errors import EngineError


class SamplerChain:
    """A llama.cpp sampler chain (owned: ``free`` releases it and every sampler in it)."""

    def __init__(self, n_vocab: int, vocab: Any) -> None:
        self._n_vocab = n_vocab
        self._vocab = vocab
        params = llama_cpp.llama_sampler_chain_default_params()
        params.no_perf = True
        self._raw: Any = llama_cpp.llama_sampler_chain_init(params)
        if not self._raw:
            raise EngineError("llama_sampler_chain_init failed")

    def _add(self, sampler: Any) -> None:
        if not sampler:
            raise EngineError("cannot create a llama.cpp sampler")
        llama_cpp.llama_sampler_chain_add(self._raw, sampler)

    def add_logit_bias(self, bias: Sequence[tuple[int, float]]) -> None:
        entries = (llama_cpp.llama_logit_bias * len(bias))()
        for entry, (token, value) in zip(entries, bias, strict=True):
            entry.token = token
            entry.bias = value
        self._add(llama_cpp.llama_sampler_init_logit_bias(self._n_vocab, len(bias), entries))

    def add_penalties(
        self,
        *,
        last_n: int,
        repeat: float,
        frequency: float,
        presence: float,
        history: Iterable[int] = (),
    ) -> None:
        """Penalties over the last ``last_n`` accepted tokens (``history`` counts as accepted
        for this sampler only: the prompt, for the repetition penalty)."""
        # 0.3.36's llama.cpp takes n_vocab first (upstream llama.cpp dropped it)
        sampler = llama_cpp.llama_sampler_init_penalties(
            self._n_vocab, last_n, repeat, frequency, presence
        )
        if not sampler:
            raise EngineError("cannot create a llama.cpp sampler")
        for token in history:
            llama_cpp.llama_sampler_accept(sampler, token)
        self._add(sampler)

    def add_grammar(self, grammar: str) -> None:
        """Only tokens that keep the text in ``grammar``'s language (GBNF, root ``root``);
        end-of-generation only once the text is complete. Must come before every sampler
        that cuts the candidates (top-k, top-p, min-p) and before the draw."""
        sampler = llama_cpp.llama_sampler_init_grammar(
            self._vocab, grammar.encode("utf-8"), b"root"
        )
        if not sampler:
            raise EngineError("llama.cpp could not parse the output grammar")
        self._add(sampler)

    def add_top_k(self, k: int) -> None:
        self._add(llama_cpp.llama_sampler_init_top_k(k))

    def add_top_p(self, p: float, min_keep: int = 1) -> None:
        self._add(llama_cpp.llama_sampler_init_top_p(p, min_keep))

    def add_min_p(self, p: float, min_keep: int = 1) -> None:
        self._add(llama_cpp.llama_sampler_init_min_p(p, min_keep))

    def add_temperature(self, temperature: float) -> None:
        self._add(llama_cpp.llama_sampler_init_temp(temperature))

    def add_dist(self, seed: int) -> None:
        self._add(llama_cpp.llama_sampler_init_dist(seed))

    def add_greedy(self) -> None:
        self._add(llama_cpp.llama_sampler_init_greedy())

    def sample(self, context: Any, index: int) -> int:
        """Sample from the logits at ``index`` of the last batch (and accept the token)."""
        return int(llama_cpp.llama_sampler_sample(self._raw, context, index))

    def free(self) -> None:
        if self._raw is not None:
            llama_cpp.llama_sampler_free(self._raw)
            self._raw = None
