from __future__ import annotations

import pytest

from atrium.gateway.stops import StopMatcher


def run(stops: tuple[str, ...], pieces: list[str]) -> tuple[list[str], bool, str]:
    matcher = StopMatcher(stops)
    emitted: list[str] = []
    for piece in pieces:
        scan = matcher.feed(piece)
        emitted.append(scan.text)
        if scan.stopped:
            return emitted, True, ""
    return emitted, False, matcher.flush()


def test_stop_inside_one_piece() -> None:
    assert run(("END",), ["abcENDxyz"]) == (["abc"], True, "")


def test_stop_split_over_three_pieces_is_held_then_dropped() -> None:
    emitted, stopped, _ = run(("<|end|>",), ["Hi <|", "en", "d|> more"])
    assert emitted == ["Hi ", "", ""]
    assert stopped


def test_partial_match_that_fails_is_released() -> None:
    emitted, stopped, tail = run(("STOP",), ["go ST", "ART now"])
    assert "".join(emitted) + tail == "go START now"
    assert emitted[0] == "go "  # "ST" held: it could begin "STOP"
    assert not stopped


def test_tail_held_at_the_end_is_flushed() -> None:
    emitted, stopped, tail = run(("xyz",), ["abc x"])
    assert emitted == ["abc "] and tail == "x" and not stopped


def test_earliest_of_several_stops_wins() -> None:
    assert run(("cd", "b"), ["abcd"]) == (["a"], True, "")


def test_text_without_stops_passes_untouched() -> None:
    assert run((), ["a", "b"]) == (["a", "b"], False, "")


@pytest.mark.parametrize("split", range(1, 12))
def test_any_split_point_gives_the_same_answer(split: int) -> None:
    text = "hello world\n\nUser: hi"
    emitted, stopped, _ = run(("\n\nUser:",), [text[:split], text[split:]])
    assert "".join(emitted) == "hello world"
    assert stopped
