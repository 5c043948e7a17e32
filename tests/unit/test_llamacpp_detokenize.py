"""The incremental detokenizer, without a model."""

from __future__ import annotations

from atrium.engines.llamacpp.detokenize import IncrementalDetokenizer


def test_multibyte_character_split_over_pieces_is_held_until_complete() -> None:
    text = "café 🎉!"
    data = text.encode("utf-8")
    detok = IncrementalDetokenizer()
    out = [detok.feed(data[i : i + 1]) for i in range(len(data))]
    out.append(detok.flush())
    assert "".join(out) == text
    assert all("\ufffd" not in chunk for chunk in out)
    emoji = "🎉".encode()
    start = data.index(emoji)
    # the three first bytes of the emoji produce nothing; the fourth completes it
    assert out[start : start + 3] == ["", "", ""]
    assert out[start + 3] == "🎉"


def test_pending_reports_an_incomplete_character() -> None:
    detok = IncrementalDetokenizer()
    assert detok.feed("é".encode()[:1]) == ""
    assert detok.pending
    assert detok.feed("é".encode()[1:]) == "é"
    assert not detok.pending


def test_flush_replaces_a_character_that_never_completed() -> None:
    detok = IncrementalDetokenizer()
    assert detok.feed(b"ok \xf0\x9f") == "ok "
    assert detok.flush() == "\ufffd"
    assert detok.flush() == ""


def test_invalid_bytes_mid_stream_do_not_stall_the_stream() -> None:
    detok = IncrementalDetokenizer()
    assert detok.feed(b"a\xffb") == "a\ufffdb"
