"""Bare llama.cpp decode loop: unified KV cache vs one KV stream per sequence, flash
attention on or off. Greedy sampling in llama.cpp, no engine, no HTTP::

    .venv/bin/python benchmarks/kv_layout.py [--sequences 1,16] [--steps 128]

It prints aggregate tok/s per layout; compare the rows of one run (the machine is noisy).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import llama_cpp

from atrium.engines.llamacpp.model import silence_native_logs
from atrium.models.registry import resolve_model

PROMPT = [1, 504, 3458, 314, 253, 1789, 1183, 30, 2] * 6
PER_SEQUENCE_CELLS = 1024
UNIFIED_CELLS = 16384


def fill(batch: Any, tokens: list[int], positions: list[int], seqs: list[int], last: bool) -> None:
    batch.n_tokens = 0
    for index, (token, position, seq) in enumerate(zip(tokens, positions, seqs, strict=True)):
        batch.token[index] = token
        batch.pos[index] = position
        batch.n_seq_id[index] = 1
        batch.seq_id[index][0] = seq
        batch.logits[index] = last or index == len(tokens) - 1
        batch.n_tokens += 1


def tokens_per_second(model: Any, sequences: int, unified: bool, flash: bool, steps: int) -> float:
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = UNIFIED_CELLS if unified else PER_SEQUENCE_CELLS * sequences
    params.n_batch = params.n_ubatch = 512
    params.n_seq_max = sequences
    params.n_threads = params.n_threads_batch = 2
    params.kv_unified = unified
    params.flash_attn_type = (
        llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        if flash
        else llama_cpp.LLAMA_FLASH_ATTN_TYPE_DISABLED
    )
    context = llama_cpp.llama_init_from_model(model, params)
    batch = llama_cpp.llama_batch_init(512, 0, sequences)
    sampler = llama_cpp.llama_sampler_init_greedy()
    try:
        for seq in range(sequences):
            fill(batch, PROMPT, list(range(len(PROMPT))), [seq] * len(PROMPT), last=False)
            assert llama_cpp.llama_decode(context, batch) == 0
        started = time.perf_counter()
        for step in range(steps):
            token = 100 + step % 50
            fill(
                batch,
                [token] * sequences,
                [len(PROMPT) + step] * sequences,
                list(range(sequences)),
                last=True,
            )
            assert llama_cpp.llama_decode(context, batch) == 0
            for index in range(sequences):
                llama_cpp.llama_sampler_sample(sampler, context, index)
        return sequences * steps / (time.perf_counter() - started)
    finally:
        llama_cpp.llama_sampler_free(sampler)
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(context)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sequences", default="1,16")
    parser.add_argument("--steps", type=int, default=128)
    args = parser.parse_args()
    silence_native_logs()
    llama_cpp.llama_backend_init()
    path = str(resolve_model("smollm2-135m-instruct").path).encode()
    model = llama_cpp.llama_model_load_from_file(path, llama_cpp.llama_model_default_params())
    print("sequences  layout   flash  tok/s")
    for sequences in (int(part) for part in args.sequences.split(",")):
        for unified in (True, False):
            for flash in (False, True):
                rate = tokens_per_second(model, sequences, unified, flash, args.steps)
                layout = "unified" if unified else "streams"
                print(f"{sequences:9d}  {layout:7s}  {flash!s:5s}  {rate:6.1f}", flush=True)
    llama_cpp.llama_model_free(model)


if __name__ == "__main__":
    main()
