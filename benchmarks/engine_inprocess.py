"""In-process throughput of the embedded engine against a bare llama.cpp decode loop.

No HTTP: ``LlamaCppEngine.generate`` is driven directly with N concurrent greedy chat
requests (128 tokens each; the end-of-generation token is banned with ``logit_bias`` so
every answer has the full length), for N = 1, 4, 16. The *ceiling* is a bare loop on the
low-level API with the same context settings: one batch holding all N prompts, then one
``llama_decode`` per token for all N sequences, greedy sampling in llama.cpp, no Python
work besides. Run on an otherwise idle machine::

    .venv/bin/python benchmarks/engine_inprocess.py [--tokens 128] [--concurrency 1,4,16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import time
from dataclasses import dataclass
from typing import Any

import llama_cpp

from atrium.engines.base import (
    ChatMessage,
    GenerationRequest,
    PromptProcessed,
    SamplingParams,
    TokenDelta,
)
from atrium.engines.llamacpp import LlamaCppEngine
from atrium.engines.llamacpp.model import default_threads, silence_native_logs
from atrium.models.registry import ModelSource, resolve_model

MODEL = "smollm2-135m-instruct"
TOPICS = ("a dragon", "the sea", "a lighthouse", "winter", "a robot", "the moon", "a river")


@dataclass
class Result:
    tokens: int
    seconds: float
    ttft: float
    itl: float

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds


def messages(i: int) -> tuple[ChatMessage, ...]:
    topic = TOPICS[i % len(TOPICS)]
    return (ChatMessage(role="user", content=f"Write a long story about {topic}. ({i})"),)


async def engine_round(engine: LlamaCppEngine, n: int, tokens: int, eos: int) -> Result:
    async def one(i: int) -> tuple[int, float, list[float]]:
        request = GenerationRequest(
            request_id=f"bench-{i}",
            model=MODEL,
            messages=messages(i),
            sampling=SamplingParams(max_tokens=tokens, temperature=0.0, logit_bias=((eos, -100),)),
        )
        start = time.perf_counter()
        stamps: list[float] = []
        count = 0
        async for event in engine.generate(request):
            if isinstance(event, TokenDelta):
                stamps.append(time.perf_counter())
                count += len(event.token_ids)
        gaps = [b - a for a, b in itertools.pairwise(stamps)]
        return count, stamps[0] - start, gaps

    start = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)))
    seconds = time.perf_counter() - start
    gaps = [gap for _, _, request_gaps in results for gap in request_gaps]
    return Result(
        tokens=sum(count for count, _, _ in results),
        seconds=seconds,
        ttft=statistics.mean(ttft for _, ttft, _ in results),
        itl=statistics.mean(gaps) if gaps else 0.0,
    )


class BareLoop:
    """The ceiling: batched greedy decode on the low-level API, nothing else."""

    def __init__(self, source: ModelSource, engine: LlamaCppEngine) -> None:
        model = engine._model
        assert model is not None
        self._context: Any = model._context
        self._memory: Any = model._memory
        self._model = model
        self._batch: Any = llama_cpp.llama_batch_init(model.n_batch, 0, 1)
        self._samplers: list[Any] = []

    def _sampler(self, i: int) -> Any:
        while len(self._samplers) <= i:
            chain = llama_cpp.llama_sampler_chain_init(
                llama_cpp.llama_sampler_chain_default_params()
            )
            llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
            self._samplers.append(chain)
        return self._samplers[i]

    def _decode(self, entries: list[tuple[int, int, int, bool]]) -> None:
        batch = self._batch
        for k, (token, pos, seq, logits) in enumerate(entries):
            batch.token[k], batch.pos[k], batch.n_seq_id[k] = token, pos, 1
            batch.seq_id[k][0], batch.logits[k] = seq, logits
        batch.n_tokens = len(entries)
        if llama_cpp.llama_decode(self._context, batch) != 0:
            raise RuntimeError("llama_decode failed")

    def run(self, engine: LlamaCppEngine, n: int, tokens: int) -> Result:
        prompts = [engine.prompt_tokens(_request(i)) for i in range(n)]
        llama_cpp.llama_memory_clear(self._memory, True)
        start = time.perf_counter()
        entries: list[tuple[int, int, int, bool]] = []
        for seq, prompt in enumerate(prompts):  # all but the last prompt tokens, no logits
            for pos, token in enumerate(prompt[:-1]):
                entries.append((token, pos, seq, False))
                if len(entries) == self._model.n_batch:
                    self._decode(entries)
                    entries = []
        if entries:
            self._decode(entries)
        # then one decode per token for all sequences: the last prompt token first
        current = [prompt[-1] for prompt in prompts]
        first = 0.0
        for step in range(tokens):
            self._decode(
                [
                    (token, len(prompt) - 1 + step, seq, True)
                    for seq, (token, prompt) in enumerate(zip(current, prompts, strict=True))
                ]
            )
            current = [
                llama_cpp.llama_sampler_sample(self._sampler(seq), self._context, seq)
                for seq in range(n)
            ]
            if step == 0:
                first = time.perf_counter()
        seconds = time.perf_counter() - start
        llama_cpp.llama_memory_clear(self._memory, True)
        return Result(
            tokens=n * tokens,
            seconds=seconds,
            ttft=first - start,
            itl=(seconds - (first - start)) / max(1, tokens - 1),
        )


def _request(i: int) -> GenerationRequest:
    return GenerationRequest(
        request_id="p", model=MODEL, messages=messages(i), sampling=SamplingParams()
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--concurrency", default="1,4,16")
    parser.add_argument("--threads", type=int, default=default_threads())
    parser.add_argument("--rounds", type=int, default=2, help="best of this many rounds")
    args = parser.parse_args()
    levels = [int(level) for level in args.concurrency.split(",")]
    silence_native_logs()
    source = resolve_model(MODEL)
    engine = LlamaCppEngine(source, threads=args.threads, max_sequences=max(16, *levels))
    await engine.start()
    model = engine._model
    assert model is not None and model.eos_id is not None
    await engine_round(engine, 2, 16, model.eos_id)  # warm-up
    print(f"threads={args.threads} tokens/request={args.tokens}")
    print(
        f"{'N':>3} {'engine tok/s':>13} {'ceiling tok/s':>14} {'ratio':>6} "
        f"{'TTFT ms':>8} {'ceil TTFT':>9} {'ITL ms':>7} {'ceil ITL':>8}"
    )
    for n in levels:
        best_engine: Result | None = None
        best_bare: Result | None = None
        for _ in range(args.rounds):
            engine.clear_prefix_cache()
            await asyncio.sleep(0.05)
            await _idle(engine)
            bare = await asyncio.to_thread(_bare_in_scheduler_gap, source, engine, n, args.tokens)
            result = await engine_round(engine, n, args.tokens, model.eos_id)
            if best_engine is None or result.rate > best_engine.rate:
                best_engine = result
            if best_bare is None or bare.rate > best_bare.rate:
                best_bare = bare
        assert best_engine is not None and best_bare is not None
        print(
            f"{n:>3} {best_engine.rate:>13.1f} {best_bare.rate:>14.1f} "
            f"{best_engine.rate / best_bare.rate:>6.2f} {best_engine.ttft * 1000:>8.0f} "
            f"{best_bare.ttft * 1000:>9.0f} {best_engine.itl * 1000:>7.1f} "
            f"{best_bare.itl * 1000:>8.1f}"
        )
    ttft_cold, ttft_warm, cached = await prefix_cache_ttft(engine)
    print(
        f"prefix cache: {cached} of the prompt's tokens cached; TTFT cold {ttft_cold * 1000:.0f} "
        f"ms, cached {ttft_warm * 1000:.0f} ms, {ttft_cold / ttft_warm:.1f}x sooner"
    )
    await engine.stop()


SYSTEM = "You are a meticulous assistant. " + " ".join(
    f"Rule {i}: always answer politely and precisely about topic {i}." for i in range(36)
)


async def prefix_cache_ttft(engine: LlamaCppEngine, rounds: int = 3) -> tuple[float, float, int]:
    """Best TTFT of a request with a ~550-token system prompt, cache cleared vs. cached."""

    async def ttft(question: str) -> tuple[float, int]:
        request = GenerationRequest(
            request_id="prefix",
            model=MODEL,
            messages=(
                ChatMessage(role="system", content=SYSTEM),
                ChatMessage(role="user", content=question),
            ),
            sampling=SamplingParams(max_tokens=1, temperature=0.0),
        )
        start = time.perf_counter()
        cached = 0
        async for event in engine.generate(request):
            if isinstance(event, PromptProcessed):
                cached = event.cached_tokens
        return time.perf_counter() - start, cached

    cold, warm, cached = [], [], 0
    for i in range(rounds):
        engine.clear_prefix_cache()
        cold.append((await ttft(f"What is {i} plus {i}?"))[0])
        seconds, cached = await ttft(f"What is {i} times {i}?")
        warm.append(seconds)
    return min(cold), min(warm), cached


async def _idle(engine: LlamaCppEngine) -> None:
    while engine.metrics().get("running_sequences", 0.0) or engine.metrics().get(
        "waiting_requests", 0.0
    ):
        await asyncio.sleep(0.01)


def _bare_in_scheduler_gap(
    source: ModelSource, engine: LlamaCppEngine, n: int, tokens: int
) -> Result:
    """Runs the bare loop on the engine's own context while the engine is idle (the
    scheduler thread is blocked on its empty inbox): same model, same context settings."""
    return BareLoop(source, engine).run(engine, n, tokens)


if __name__ == "__main__":
    asyncio.run(main())
