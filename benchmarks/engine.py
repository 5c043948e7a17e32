#!/usr/bin/env python3
"""Engine benchmark: streaming chat load against OpenAI-compatible servers.

    python benchmarks/engine.py --url http://127.0.0.1:8000/v1
    python benchmarks/engine.py --compare [--llama-server .bench/llama-server] [--peer-url URL]

See benchmarks/README.md for what is measured and how to read the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import httpx
from loadgen import LevelResult, RequestResult, chat_body, make_client, run_level, stream_chat
from loadgen import served_model as first_model
from loadgen import warm_up as send_warm_up
from prompts import long_system_prompt
from report import (
    PrefixResult,
    print_levels,
    print_machine_facts,
    print_prefix,
    print_ratios,
)
from servers import (
    LaunchSpec,
    Target,
    atrium_spec,
    launched,
    llama_cpp_python_spec,
    llama_server_spec,
    resolve_gguf,
)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SERVER_PYTHON = REPO / ".bench-venv" / "bin" / "python"
PREFIX_USER = "Reply with one short sentence: what is this manual about?"
PREFIX_MAX_TOKENS = 8


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--url", help="benchmark one running server (OpenAI base URL, .../v1)")
    mode.add_argument("--compare", action="store_true", help="start the servers one by one")
    parser.add_argument("--concurrency", default="1,4,16", help="levels (default 1,4,16)")
    parser.add_argument("--requests", type=int, help="requests per level (default max(8, 2N))")
    parser.add_argument("--max-tokens", type=int, default=128, help="per request (default 128)")
    parser.add_argument("--temperature", type=float, default=0.0, help="default 0 (greedy)")
    parser.add_argument("--prefix-cache", action="store_true", help="also run the cache probe")
    parser.add_argument("--prefix-reps", type=int, default=5, help="probe repetitions")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="Atrium model id/GGUF")
    parser.add_argument("--threads", type=int, default=2, help="engine threads (default 2)")
    parser.add_argument("--ctx", type=int, default=2048, help="context per sequence/slot")
    parser.add_argument(
        "--atrium-arg",
        action="append",
        default=[],
        help="extra flag for atrium serve, repeatable (e.g. --atrium-arg=--kv-streams)",
    )
    parser.add_argument(
        "--slots",
        type=int,
        default=16,
        help="parallel sequences of llama-server (-np) and Atrium (default 16)",
    )
    parser.add_argument("--atrium-python", default=sys.executable, help="runs Atrium")
    parser.add_argument("--llama-cpp-python-server-python", help="has llama-cpp-python[server]")
    parser.add_argument("--llama-server", help="path of llama.cpp's llama-server binary")
    parser.add_argument("--peer-url", help="an already-running peer server (.../v1)")
    parser.add_argument("--peer-name", default="peer", help="name of --peer-url in the tables")
    parser.add_argument("--peer-api-key", help="API key for --peer-url, if it needs one")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("ATRIUM_API_KEY"),
        help="API key for --url (default: $ATRIUM_API_KEY)",
    )
    parser.add_argument("--name", default="server", help="name of --url in the tables")
    parser.add_argument("--skip", default="", help="comma list of: atrium,llama-cpp-python")
    parser.add_argument("--log-dir", type=Path, help="server logs (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write raw results here")
    return parser


def levels_of(args: argparse.Namespace) -> list[int]:
    return [int(part) for part in args.concurrency.split(",") if part.strip()]


async def bench_target(
    target: Target, args: argparse.Namespace
) -> tuple[list[LevelResult], PrefixResult | None]:
    """Warm up, run every concurrency level, then the optional prefix-cache probe."""
    model = await first_model(target.base_url, target.api_key)
    warm = await send_warm_up(target.base_url, model, args.max_tokens, target.api_key)
    print(f"# {target.name}: model {model!r}, warm-up ok={warm.ok} {warm.error}", flush=True)
    results: list[LevelResult] = []
    offset = 0
    for concurrency in levels_of(args):
        requests = args.requests or max(8, 2 * concurrency)
        level = await run_level(
            target.base_url,
            model,
            concurrency=concurrency,
            requests=requests,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            offset=offset,
            api_key=target.api_key,
        )
        offset += requests
        print(
            f"# {target.name} @ {concurrency}: {level.tok_s:.1f} tok/s, "
            f"TTFT p50 {level.ttft_p50 * 1000:.0f} ms, errors {level.errors}, "
            f"load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        results.append(level)
    prefix = await prefix_probe(target, model, args.prefix_reps) if args.prefix_cache else None
    return results, prefix


async def _timed_prefix_request(
    client: httpx.AsyncClient, model: str, system_seed: int
) -> RequestResult:
    messages = [
        {"role": "system", "content": long_system_prompt(system_seed)},
        {"role": "user", "content": PREFIX_USER},
    ]
    return await stream_chat(client, chat_body(model, messages, PREFIX_MAX_TOKENS, 0.0))


async def prefix_probe(target: Target, model: str, reps: int) -> PrefixResult:
    """Per repetition: prompt A cold, A again (cache hit), B of the same length (miss)."""
    cold: list[float] = []
    hit: list[float] = []
    miss: list[float] = []
    errors = 0
    prompt_tokens: int | None = None
    base_seed = int(time.time()) % 100_000 * 10  # fresh prompts on every run of the script
    async with make_client(target.base_url, 1, target.api_key) as client:
        for rep in range(reps):
            seed_a = base_seed + 2 * rep
            trio = [
                await _timed_prefix_request(client, model, seed_a),
                await _timed_prefix_request(client, model, seed_a),
                await _timed_prefix_request(client, model, seed_a + 1),
            ]
            for bucket, result in zip((cold, hit, miss), trio, strict=True):
                if result.ok and result.ttft_s is not None:
                    bucket.append(result.ttft_s)
                else:
                    errors += 1
            prompt_tokens = prompt_tokens or trio[0].prompt_tokens
    print(f"# {target.name}: prefix probe done ({errors} errors)", flush=True)
    return PrefixResult(
        repetitions=reps,
        prompt_tokens=prompt_tokens,
        cold_ttft=_median(cold),
        hit_ttft=_median(hit),
        miss_ttft=_median(miss),
        errors=errors,
    )


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def server_python(args: argparse.Namespace) -> str | None:
    if args.llama_cpp_python_server_python:
        return str(args.llama_cpp_python_server_python)
    return str(DEFAULT_SERVER_PYTHON) if DEFAULT_SERVER_PYTHON.exists() else None


def launch_specs(args: argparse.Namespace, data_dir: Path) -> list[LaunchSpec]:
    """Servers --compare starts itself, in order, all on the same GGUF and threads."""
    skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    gguf = resolve_gguf(args.atrium_python, args.model)
    print(f"# GGUF: {gguf}\n# threads: {args.threads}, ctx per sequence: {args.ctx}\n")
    specs: list[LaunchSpec] = []
    if "atrium" not in skip:
        specs.append(
            atrium_spec(
                args.atrium_python,
                gguf,
                args.threads,
                args.ctx,
                slots=args.slots,
                data_dir=data_dir,
                extra=args.atrium_arg,
            )
        )
    python = server_python(args)
    if "llama-cpp-python" not in skip:
        if python is None:
            print("# llama-cpp-python server skipped: no --llama-cpp-python-server-python")
        else:
            specs.append(llama_cpp_python_spec(python, gguf, args.threads, args.ctx))
    if args.llama_server:
        binary = str(Path(args.llama_server).resolve())
        specs.append(llama_server_spec(binary, gguf, args.threads, args.ctx, args.slots))
    return specs


Results = tuple[dict[str, list[LevelResult]], dict[str, PrefixResult]]


def run_compare(args: argparse.Namespace) -> Results:
    levels: dict[str, list[LevelResult]] = {}
    prefixes: dict[str, PrefixResult] = {}
    with tempfile.TemporaryDirectory(prefix="atrium-bench-") as scratch:
        log_dir = args.log_dir or Path(scratch) / "logs"
        for spec in launch_specs(args, Path(scratch) / "atrium-data"):
            try:
                with launched(spec, log_dir) as target:
                    result, prefix = asyncio.run(bench_target(target, args))
            except RuntimeError as exc:
                print(f"# {spec.name} FAILED: {exc}", flush=True)
                continue
            levels[spec.name] = result
            if prefix is not None:
                prefixes[spec.name] = prefix
    if args.peer_url:
        peer = Target(args.peer_name, args.peer_url, args.peer_api_key)
        result, prefix = asyncio.run(bench_target(peer, args))
        levels[args.peer_name] = result
        if prefix is not None:
            prefixes[args.peer_name] = prefix
    return levels, prefixes


def write_json(path: Path, args: argparse.Namespace, results: Results) -> None:
    levels, prefixes = results
    payload = {
        "settings": {key: str(value) for key, value in vars(args).items()},
        "levels": {name: [asdict(level) for level in rows] for name, rows in levels.items()},
        "prefix_cache": {name: asdict(res) for name, res in prefixes.items()},
    }
    path.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """Turn SIGTERM (e.g. from ``timeout``) into SystemExit so started servers get stopped."""
    sys.exit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    print_machine_facts(server_python(args) if args.compare else None)
    print(
        f"# load: levels {levels_of(args)}, requests/level "
        f"{args.requests or 'max(8, 2N)'}, max_tokens {args.max_tokens}, "
        f"temperature {args.temperature}\n",
        flush=True,
    )
    if args.compare:
        results = run_compare(args)
    else:
        result, prefix = asyncio.run(bench_target(Target(args.name, args.url, args.api_key), args))
        results = ({args.name: result}, {args.name: prefix} if prefix else {})
    print("\n## Results\n")
    print_levels(results[0])
    print_ratios(results[0])
    print_prefix(results[1])
    if args.json:
        write_json(args.json, args, results)
    failed = sum(level.errors for rows in results[0].values() for level in rows)
    return 1 if failed or not results[0] else 0


if __name__ == "__main__":
    sys.exit(main())
