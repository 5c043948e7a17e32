"""What a generation stream yields to the HTTP edge: text pieces and per-choice endings,
each with the content-filter results of the text it covers (when a policy applies)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from atrium.engines.base import TokenLogprob
from atrium.safety.results import FilterResults

# How a choice ended: the engine's reasons, or cut by the content filter.
ChoiceEnd = Literal["stop", "length", "content_filter"]


@dataclass(frozen=True, slots=True)
class TextPiece:
    """Text of one choice, ready to send (stop sequences removed), with its logprobs."""

    choice: int
    text: str
    logprobs: tuple[TokenLogprob, ...] = ()
    filter_results: FilterResults | None = None


@dataclass(frozen=True, slots=True)
class ChoiceFinished:
    choice: int
    finish_reason: ChoiceEnd
    filter_results: FilterResults | None = None


StreamItem = TextPiece | ChoiceFinished
