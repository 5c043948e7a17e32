"""Seed handling of the sampler chains, without a model."""

from __future__ import annotations

from atrium.engines.llamacpp.sampling import resolve_seed


def test_given_seeds_are_folded_into_llama_cpp_range_and_stay_deterministic() -> None:
    assert resolve_seed(42) == 42
    assert resolve_seed(0xFFFFFFFF) == 0  # 0xFFFFFFFF would mean "random" to llama.cpp
    assert resolve_seed(-1) == resolve_seed(-1)
    assert 0 <= resolve_seed(-1) < 0xFFFFFFFF
    assert 0 <= resolve_seed(2**70 + 3) < 0xFFFFFFFF


def test_no_seed_means_a_random_one() -> None:
    seeds = {resolve_seed(None) for _ in range(8)}
    assert len(seeds) > 1
    assert all(0 <= seed < 0xFFFFFFFF for seed in seeds)
