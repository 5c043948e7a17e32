"""Token log-probabilities in OpenAI's two shapes (chat and legacy completions)."""

from __future__ import annotations

from collections.abc import Sequence

from atrium.engines.base import TokenLogprob, TopLogprob
from atrium.protocol.chat import ChoiceLogprobs, LogprobEntry, TopLogprobEntry
from atrium.protocol.completions import CompletionLogprobs


def _top_entry(top: TopLogprob) -> TopLogprobEntry:
    return TopLogprobEntry(token=top.token, logprob=top.logprob, bytes=list(top.bytes))


def chat_logprobs(logprobs: Sequence[TokenLogprob], top_n: int) -> ChoiceLogprobs:
    """``{"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}], "refusal"}``."""
    return ChoiceLogprobs(
        content=[
            LogprobEntry(
                token=entry.token,
                logprob=entry.logprob,
                bytes=list(entry.bytes),
                top_logprobs=[_top_entry(top) for top in entry.top[:top_n]],
            )
            for entry in logprobs
        ]
    )


def completion_logprobs(
    logprobs: Sequence[TokenLogprob], top_n: int, text_offset: int = 0
) -> CompletionLogprobs:
    """``{"tokens", "token_logprobs", "top_logprobs", "text_offset"}``; offsets count
    characters from the start of the generated text (no ``echo``)."""
    offsets: list[int] = []
    for entry in logprobs:
        offsets.append(text_offset)
        text_offset += len(entry.token)
    return CompletionLogprobs(
        tokens=[entry.token for entry in logprobs],
        token_logprobs=[entry.logprob for entry in logprobs],
        top_logprobs=[{top.token: top.logprob for top in entry.top[:top_n]} for entry in logprobs],
        text_offset=offsets,
    )
