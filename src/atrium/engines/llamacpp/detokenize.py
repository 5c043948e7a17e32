"""Incremental detokenization: token pieces (bytes) in, complete UTF-8 text out.

A token's piece may end in the middle of a multi-byte character (byte-level BPE splits
emoji and CJK characters over several tokens). Decoding each piece on its own would emit
U+FFFD mid-stream; an incremental decoder holds the incomplete tail until the next piece
completes it, and only ``flush`` at the end of the sequence replaces what never completed.
"""

from __future__ import annotations

import codecs


class IncrementalDetokenizer:
    """Turns a stream of token pieces into text, never splitting a character."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def feed(self, piece: bytes) -> str:
        """The text completed by ``piece`` (may be empty while a character is incomplete)."""
        return self._decoder.decode(piece, final=False)

    def flush(self) -> str:
        """Whatever is still held at the end of the sequence (an incomplete character
        becomes U+FFFD, as a non-incremental decode would have made it)."""
        return self._decoder.decode(b"", final=True)

    @property
    def pending(self) -> bool:
        """Whether bytes of an incomplete character are held back."""
        buffered, _ = self._decoder.getstate()
        return bool(buffered)
