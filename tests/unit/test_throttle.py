"""FailedAuthThrottle: free failures, then growing delays up to a cap, forgotten over time."""

from __future__ import annotations

import pytest

from atrium.gateway.throttle import FailedAuthThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(clock: Clock, **options: float) -> FailedAuthThrottle:
    settings = {"free_failures": 3, "base_delay_s": 0.5, "max_delay_s": 4.0, "half_life_s": 60.0}
    settings.update(options)
    return FailedAuthThrottle(
        free_failures=int(settings["free_failures"]),
        base_delay_s=settings["base_delay_s"],
        max_delay_s=settings["max_delay_s"],
        half_life_s=settings["half_life_s"],
        max_clients=int(options.get("max_clients", 100)),
        clock=clock,
    )


def test_free_failures_then_doubling_delays_up_to_the_cap() -> None:
    limiter = throttle(Clock())
    delays = [limiter.failure("203.0.113.9") for _ in range(9)]
    assert delays == [0, 0, 0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert limiter.delayed == 6


def test_clients_are_counted_separately() -> None:
    limiter = throttle(Clock())
    for _ in range(6):
        limiter.failure("203.0.113.9")
    assert limiter.failure("198.51.100.1") == 0
    assert limiter.failure("203.0.113.9") == 4.0


def test_failures_are_forgotten_with_a_half_life() -> None:
    clock = Clock()
    limiter = throttle(clock, free_failures=0, base_delay_s=1.0, max_delay_s=100.0)
    assert [limiter.failure("a") for _ in range(3)] == [1.0, 2.0, 4.0]
    clock.now += 60.0  # one half-life: the score of 3 is now 1.5, plus this failure
    assert limiter.failure("a") == pytest.approx(2**1.5)
    clock.now += 3600.0  # an hour later the burst is forgotten
    assert limiter.failure("a") == pytest.approx(1.0, rel=1e-6)


def test_slow_trickle_of_failures_stays_free() -> None:
    clock = Clock()
    limiter = throttle(clock)
    for _ in range(50):  # one failure every two minutes never adds up to the free three
        assert limiter.failure("a") == 0
        clock.now += 120.0
    assert limiter.delayed == 0


def test_client_table_is_bounded_and_drops_the_least_recent() -> None:
    limiter = throttle(Clock(), free_failures=1, max_clients=2)
    assert [limiter.failure("a"), limiter.failure("a")] == [0, 0.5]
    limiter.failure("b")
    limiter.failure("a")  # a failed most recently: b is now the oldest
    limiter.failure("c")  # a third client: b is forgotten, a is kept
    assert limiter.failure("a") > 0.5
    assert limiter.failure("b") == 0
    # "b" pushed out "c", the least recently failed of "a" and "c".
    assert limiter.failure("c") == 0


def test_delay_stays_capped_after_very_many_failures() -> None:
    limiter = throttle(Clock())
    for _ in range(10_000):
        delay = limiter.failure("a")
    assert delay == 4.0
