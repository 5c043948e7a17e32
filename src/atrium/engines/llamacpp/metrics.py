"""Counters and latency statistics of the scheduler (written by its thread, read by any)."""

from __future__ import annotations

from collections import deque


class Latency:
    """A cumulative sum and count, plus the mean of the last ``window`` samples."""

    __slots__ = ("count", "recent", "total")

    def __init__(self, window: int = 256) -> None:
        self.total = 0.0
        self.count = 0
        self.recent: deque[float] = deque(maxlen=window)

    def add(self, seconds: float) -> None:
        self.total += seconds
        self.count += 1
        self.recent.append(seconds)

    def recent_mean(self) -> float:
        recent = tuple(self.recent)  # a snapshot: the scheduler thread may append meanwhile
        return sum(recent) / len(recent) if recent else 0.0


class SchedulerMetrics:
    """What ``LlamaCppEngine.metrics`` reports, apart from the live gauges."""

    def __init__(self) -> None:
        self.prompt_tokens = 0
        self.computed_prompt_tokens = 0
        self.generated_tokens = 0
        self.requests_finished = 0
        self.requests_failed = 0
        self.requests_rejected = 0
        self.steps = 0
        self.batch_tokens = 0
        self.cache_lookups = 0
        self.cache_hits = 0
        self.cache_hit_tokens = 0
        self.queue_time = Latency()
        self.ttft = Latency()
        self.inter_token = Latency(window=1024)
        self.request_time = Latency(window=64)

    def snapshot(self) -> dict[str, float]:
        values: dict[str, float] = {
            "prompt_tokens_total": self.prompt_tokens,
            "prompt_tokens_computed_total": self.computed_prompt_tokens,
            "generation_tokens_total": self.generated_tokens,
            "requests_finished_total": self.requests_finished,
            "requests_failed_total": self.requests_failed,
            "requests_rejected_total": self.requests_rejected,
            "decode_steps_total": self.steps,
            "batch_tokens_total": self.batch_tokens,
            "prefix_cache_lookups_total": self.cache_lookups,
            "prefix_cache_hits_total": self.cache_hits,
            "prefix_cache_hit_tokens_total": self.cache_hit_tokens,
        }
        for name, latency in (
            ("queue_time", self.queue_time),
            ("time_to_first_token", self.ttft),
            ("inter_token_latency", self.inter_token),
            ("request_duration", self.request_time),
        ):
            values[f"{name}_seconds_sum"] = latency.total
            values[f"{name}_seconds_count"] = latency.count
            values[f"{name}_seconds_recent_mean"] = latency.recent_mean()
        return {key: float(value) for key, value in values.items()}
