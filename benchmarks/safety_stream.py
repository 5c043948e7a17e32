#!/usr/bin/env python3
"""What the content filter costs a streamed answer: time to first token and total time,
with the default policy (windows of ``stream_window_chars``) and without a policy, side by
side on one server with the real default model.

    .venv/bin/python benchmarks/safety_stream.py [--requests 20] [--max-tokens 64]

It starts ``atrium serve`` on a free port with a temporary data directory, adds an
unfiltered deployment of the same model, and alternates requests between the two so both
see the same machine load. Prints p50/p90 per variant and the ratios.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
ATRIUM = REPO / ".venv" / "bin" / "atrium"
PROMPTS = (
    "Write a short paragraph about the history of the bicycle.",
    "Explain in a few sentences how a rainbow forms.",
    "Describe a calm morning at the seaside.",
    "Give three tips for keeping houseplants healthy.",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(base: str, process: subprocess.Popen[bytes], timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"atrium exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    sys.exit("atrium did not become ready")


CUT: dict[str, int] = {}


def stream_once(
    client: httpx.Client, model: str, prompt: str, max_tokens: int
) -> tuple[float, float]:
    """(seconds to the first content, seconds to the end) of one streamed chat; counts
    answers the content filter cut in ``CUT``."""
    body = {
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "max_tokens": max_tokens,
        "temperature": 0,
        "stream": True,
    }
    started = time.perf_counter()
    first = None
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and '"content":"' in line and '"content":""' not in line:
                first = time.perf_counter() - started
            if '"finish_reason":"content_filter"' in line:
                CUT[model] = CUT.get(model, 0) + 1
    total = time.perf_counter() - started
    return (first if first is not None else total), total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=20, help="requests per variant")
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "ATRIUM_DATA_DIR": data_dir}
        command = [str(ATRIUM), "serve", "--port", str(port), "--log-level", "warning"]
        process = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
        try:
            wait_ready(base, process)
            key = (Path(data_dir) / "admin-key").read_text().strip()
            headers = {"authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
                models = client.get("/v1/models").json()["data"]
                filtered = models[0]["id"]
                model = client.get(f"/admin/deployments/{filtered}").json()["model"]
                created = client.post(
                    "/admin/deployments",
                    json={"name": "unfiltered", "model": model, "content_policy": None},
                )
                created.raise_for_status()
                run(client, filtered, args.requests, args.max_tokens)
        finally:
            process.terminate()
            process.wait(timeout=30)


def run(client: httpx.Client, filtered: str, requests: int, max_tokens: int) -> None:
    results: dict[str, list[tuple[float, float]]] = {filtered: [], "unfiltered": []}
    for name in results:  # warm up both paths
        stream_once(client, name, PROMPTS[0], 8)
    CUT.clear()
    for index in range(requests):
        prompt = PROMPTS[index % len(PROMPTS)]
        order = (filtered, "unfiltered") if index % 2 == 0 else ("unfiltered", filtered)
        for name in order:
            results[name].append(stream_once(client, name, prompt, max_tokens))
    print(f"{requests} streamed chats per variant, max_tokens={max_tokens}, temperature 0")
    print(f"{'variant':<28}{'TTFT p50':>10}{'TTFT p90':>10}{'total p50':>11}{'cut':>6}")
    summary = {}
    for name, samples in results.items():
        ttft = [first for first, _ in samples]
        total = [whole for _, whole in samples]
        label = "default policy" if name == filtered else "no policy"
        summary[name] = (statistics.median(ttft), statistics.median(total))
        print(
            f"{label:<28}{statistics.median(ttft) * 1000:>8.0f}ms"
            f"{percentile(ttft, 0.9) * 1000:>8.0f}ms{statistics.median(total) * 1000:>9.0f}ms"
            f"{CUT.get(name, 0):>6}"
        )
    ttft_ratio = summary[filtered][0] / summary["unfiltered"][0]
    total_ratio = summary[filtered][1] / summary["unfiltered"][1]
    added = (summary[filtered][0] - summary["unfiltered"][0]) * 1000
    print(f"TTFT with/without filter: {ttft_ratio:.2f}x (+{added:.0f} ms p50)")
    print(f"total time with/without filter: {total_ratio:.2f}x")


if __name__ == "__main__":
    main()
