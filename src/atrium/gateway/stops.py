"""Stop sequences matched across token boundaries, never emitted.

Text arrives in arbitrary pieces (one token may hold half a stop sequence, or the end of
one and the start of the next). The matcher releases text as soon as it cannot be the
start of a stop sequence, and holds back only the shortest tail that still could be.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class StopScan:
    text: str
    """Text safe to emit now."""
    stopped: bool
    """A stop sequence was found: ``text`` is everything before it; generation must end."""


class StopMatcher:
    def __init__(self, stops: tuple[str, ...]) -> None:
        self._stops = tuple(stop for stop in stops if stop)
        self._held = ""

    def feed(self, text: str) -> StopScan:
        buffer = self._held + text
        first = min(
            (index for index in (buffer.find(stop) for stop in self._stops) if index >= 0),
            default=-1,
        )
        if first >= 0:
            self._held = ""
            return StopScan(buffer[:first], stopped=True)
        keep = self._partial_match_length(buffer)
        self._held = buffer[len(buffer) - keep :] if keep else ""
        return StopScan(buffer[: len(buffer) - keep], stopped=False)

    def flush(self) -> str:
        """The held-back tail, once generation ended without completing a stop sequence."""
        held, self._held = self._held, ""
        return held

    def _partial_match_length(self, buffer: str) -> int:
        """Length of the longest tail of ``buffer`` that is a proper prefix of a stop."""
        longest = 0
        for stop in self._stops:
            for length in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if stop.startswith(buffer[-length:]):
                    longest = length
                    break
        return longest
