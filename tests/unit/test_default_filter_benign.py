"""Everyday requests and answers pass the default policy with the trained classifier.

The false positives users of hosted filters complain about most: greetings and short
requests, ordinary model output cut into stream windows, other languages, agent system
prompts. None of these may be blocked (or cut) by the built-in default policy.
"""

from __future__ import annotations

import pytest

from atrium.safety.linear import LinearClassifier
from atrium.safety.pipeline import ContentFilter, Segment
from atrium.safety.policy import DEFAULT_POLICY

EVERYDAY_PROMPTS = (
    "Hello",
    "Hi!",
    "hey there",
    "Thanks!",
    "Tell me a story",
    "Once upon a time",
    "Once upon a time there was a",
    "What is the capital of France?",
    "Name one primary colour.",
    "Say hello in French.",
    "Write a haiku about the sea.",
    "Count to five.",
    "Summarise this paragraph in one sentence.",
    "Translate 'good morning' into Spanish.",
    "What's 17 times 23?",
    "Give me three tips for a job interview.",
    "Explain photosynthesis to a ten-year-old.",
    "How do I reverse a list in Python?",
    "Bonjour, comment ça va ?",
    "¿Dónde está la estación de tren?",
    "Wie spät ist es?",
    "今天天气怎么样？",  # noqa: RUF001
    "Can you help me plan a birthday party for my daughter?",
    "My code throws a KeyError, what does that mean?",
)
MODEL_OUTPUT_WINDOWS = (
    "L'Étoile, la Mar",
    "The capital of France is Paris.",
    "Once upon a time, in a small village by the sea, there lived a girl named",
    "Sure! Here are three tips: 1. Research the company. 2. Practise common questions.",
    "Photosynthesis is how plants turn sunlight, water and carbon dioxide into sugar and",
    "Here is a haiku:\nWaves fold into foam\nthe gull rides the salted wind\nevening",
    "To reverse a list in Python, use my_list.reverse() or slicing: my_list[::-1].",
    "Hola, la estación de tren está a dos calles de aquí, a la izquierda.",
    "Es ist kurz nach drei Uhr nachmittags.",
    "今天天气晴朗，气温大约二十度。",  # noqa: RUF001
    "A KeyError means you asked a dictionary for a key it does not contain.",
)


@pytest.fixture(scope="module")
def content_filter() -> ContentFilter:
    return ContentFilter([LinearClassifier()])


@pytest.mark.parametrize("text", EVERYDAY_PROMPTS)
def test_everyday_prompts_pass(content_filter: ContentFilter, text: str) -> None:
    screening = content_filter.screen(DEFAULT_POLICY, "prompt", [Segment(text, "user")])
    assert not screening.blocked, screening.results


@pytest.mark.parametrize("text", MODEL_OUTPUT_WINDOWS)
def test_ordinary_answers_are_not_cut(content_filter: ContentFilter, text: str) -> None:
    window = content_filter.screen_window(DEFAULT_POLICY, "", text, final=True)
    assert not window.blocked, window.results
    assert window.released == text


WEATHER = "Here is the weather report for the coming week in the northern valleys. " * 3
THREAT = "I am going to kill you and your whole family with a knife tonight, you will bleed."


def test_harm_after_harmless_text_is_not_diluted(content_filter: ContentFilter) -> None:
    """A threat after a few hundred harmless characters is blocked where it is, in the whole
    answer and in the stream window that brings it (the whole text's features alone rate it
    "low"), while the harmless part alone passes."""
    answer = [Segment(WEATHER + THREAT, "completion")]
    assert content_filter.screen(DEFAULT_POLICY, "completion", answer).blocked
    window = content_filter.screen_window(DEFAULT_POLICY, WEATHER[-200:], THREAT, final=True)
    assert window.blocked and window.results.categories["violence"].filtered
    harmless = [Segment(WEATHER * 2, "completion")]
    assert not content_filter.screen(DEFAULT_POLICY, "completion", harmless).blocked
