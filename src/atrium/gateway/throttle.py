"""Slowing down bursts of failed authentications from one client address.

Not a lockout: a client that keeps presenting bad keys gets its *failures* answered more and
more slowly (up to ``max_delay_s``), so guessing keys becomes impractical, while a request
with a valid key from the same address is answered at once. Failures are forgotten with a
half-life, and only ``max_clients`` addresses are tracked (least recently failed dropped).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _FailureScore:
    score: float
    updated: float


class FailedAuthThrottle:
    def __init__(
        self,
        *,
        free_failures: int = 5,
        base_delay_s: float = 0.25,
        max_delay_s: float = 5.0,
        half_life_s: float = 60.0,
        max_clients: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free_failures
        self._base = base_delay_s
        self._max = max_delay_s
        self._decay = math.log(2) / half_life_s
        self._max_clients = max_clients
        self._clock = clock
        self._scores: OrderedDict[str, _FailureScore] = OrderedDict()
        self.delayed = 0

    def _current(self, client: str, now: float) -> float:
        entry = self._scores.get(client)
        if entry is None:
            return 0.0
        return entry.score * math.exp(-self._decay * (now - entry.updated))

    def failure(self, client: str) -> float:
        """Count one failed authentication; returns how long to delay its answer (s)."""
        now = self._clock()
        score = self._current(client, now) + 1.0
        self._scores[client] = _FailureScore(score, now)
        self._scores.move_to_end(client)
        while len(self._scores) > self._max_clients:
            self._scores.popitem(last=False)
        excess = score - self._free
        if excess <= 0:
            return 0.0
        self.delayed += 1
        return min(self._max, self._base * 2 ** min(excess - 1, 16))
