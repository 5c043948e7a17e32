"""Printing: machine facts, per-level tables, ratios and the prefix-cache summary."""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
import subprocess
from dataclasses import dataclass

from loadgen import LevelResult


@dataclass
class PrefixResult:
    """Medians over repetitions of the prefix-cache probe (seconds)."""

    repetitions: int
    prompt_tokens: int | None
    cold_ttft: float
    hit_ttft: float
    miss_ttft: float
    errors: int

    @property
    def miss_over_hit(self) -> float:
        return self.miss_ttft / self.hit_ttft if self.hit_ttft > 0 else math.nan


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(python: str | None, package: str = "llama-cpp-python") -> str:
    """A package's version in this interpreter, or in another one when ``python`` is given."""
    if python is None:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"
    code = f"import importlib.metadata as m; print(m.version({package!r}))"
    try:
        out = subprocess.run(
            [python, "-c", code], check=False, capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def print_machine_facts(server_python: str | None) -> None:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    load = os.getloadavg() if hasattr(os, "getloadavg") else (math.nan,) * 3
    print("## Machine")
    print(f"- CPU: {cpu_model()}")
    print(f"- cores: os.cpu_count()={os.cpu_count()}, usable={affinity}")
    print(f"- load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    print(f"- Python {platform.python_version()} on {platform.platform()}")
    print(f"- llama-cpp-python (this interpreter): {package_version(None)}")
    if server_python:
        print(f"- llama-cpp-python (server interpreter): {package_version(server_python)}")
    print(flush=True)


def _ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.0f}"


LEVEL_HEADER = (
    "| server | conc | reqs | ok | err | tokens | wall s | tok/s "
    "| TTFT p50 ms | TTFT p99 ms | ITL p50 ms | ITL p99 ms | tokens from |"
)


def level_row(server: str, level: LevelResult) -> str:
    source = "usage" if level.usage_reported else "chunks"
    cells = [
        server,
        str(level.concurrency),
        str(level.requests),
        str(level.ok),
        str(level.errors),
        str(level.completion_tokens),
        f"{level.wall_s:.1f}",
        f"{level.tok_s:.1f}",
        _ms(level.ttft_p50),
        _ms(level.ttft_p99),
        _ms(level.itl_p50),
        _ms(level.itl_p99),
        source,
    ]
    return "| " + " | ".join(cells) + " |"


def print_levels(results: dict[str, list[LevelResult]]) -> None:
    print(LEVEL_HEADER)
    print(_separator(LEVEL_HEADER))
    for server, levels in results.items():
        for level in levels:
            print(level_row(server, level))
    for server, levels in results.items():
        for level in levels:
            for sample in level.error_samples:
                print(f"- {server} @ {level.concurrency}: error: {sample}")
    print(flush=True)


def _separator(header: str) -> str:
    return "|" + "---|" * (header.count("|") - 1)


def _ratio(numerator: float, denominator: float) -> str:
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return "-"
    return f"{numerator / denominator:.2f}"


def print_ratios(results: dict[str, list[LevelResult]], base: str = "atrium") -> None:
    """Atrium/other for tok/s (higher is better) and TTFT p50 (lower is better)."""
    if base not in results or len(results) < 2:
        return
    header = "| vs | conc | tok/s atrium/other | TTFT p50 atrium/other |"
    print(f"Ratios ({base} / other; tok/s > 1 and TTFT < 1 favour {base}):")
    print(header)
    print(_separator(header))
    mine = {level.concurrency: level for level in results[base]}
    for server, levels in results.items():
        if server == base:
            continue
        for level in levels:
            ours = mine.get(level.concurrency)
            if ours is None:
                continue
            tok = _ratio(ours.tok_s, level.tok_s)
            ttft = _ratio(ours.ttft_p50, level.ttft_p50)
            print(f"| {server} | {level.concurrency} | {tok} | {ttft} |")
    print(flush=True)


def print_prefix(results: dict[str, PrefixResult]) -> None:
    if not results:
        return
    header = (
        "| server | reps | prompt tokens | TTFT cold ms | TTFT repeat (hit) ms "
        "| TTFT other prompt (miss) ms | miss/hit | errors |"
    )
    print("Prefix cache (same ~500-token system prompt twice vs. a different one; medians):")
    print(header)
    print(_separator(header))
    for server, res in results.items():
        tokens = "-" if res.prompt_tokens is None else str(res.prompt_tokens)
        cells = [
            server,
            str(res.repetitions),
            tokens,
            _ms(res.cold_ttft),
            _ms(res.hit_ttft),
            _ms(res.miss_ttft),
            f"{res.miss_over_hit:.2f}",
            str(res.errors),
        ]
        print("| " + " | ".join(cells) + " |")
    print(flush=True)
