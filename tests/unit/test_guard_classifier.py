"""The Llama Guard classifier, against the fake engine with scripted answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from atrium.engines.base import GenerationRequest
from atrium.engines.fake import FakeEngine
from atrium.safety.classifier import ClassifierError, TextClassifier
from atrium.safety.guard import (
    MAX_ANSWER_TOKENS,
    GuardClassifier,
    build_guard_prompt,
    parse_guard_answer,
)
from atrium.safety.results import HARM_CATEGORIES

GUARD_MODEL = "llama-guard-3"


def scripted(answer: str) -> Callable[[GenerationRequest], str]:
    return lambda request: answer


def guard_engine(answer: str = "safe") -> FakeEngine:
    engine = FakeEngine(model_ids=(GUARD_MODEL,))
    engine.behaviour.reply = scripted(answer)
    return engine


def guard_for(
    engine: FakeEngine, *, timeout_s: float = 10.0, max_concurrency: int = 4
) -> GuardClassifier:
    return GuardClassifier(
        engine,
        GUARD_MODEL,
        asyncio.get_running_loop(),
        timeout_s=timeout_s,
        max_concurrency=max_concurrency,
    )


def sent_text(request: GenerationRequest) -> str:
    assert request.messages is not None
    return request.messages[0].content


async def test_identity_and_protocol() -> None:
    classifier = guard_for(guard_engine())
    assert isinstance(classifier, TextClassifier)
    assert classifier.name == "guard"
    assert classifier.labels == frozenset({"hate", "sexual", "violence", "self_harm"})
    assert "jailbreak" not in classifier.labels


async def test_safe_answer_is_safe_everywhere() -> None:
    classifier = guard_for(guard_engine("safe"))
    [verdicts] = await asyncio.to_thread(classifier.classify, ["How do I bake bread?"])
    assert set(verdicts) == set(HARM_CATEGORIES)
    for label, verdict in verdicts.items():
        assert verdict.label == label
        assert verdict.severity == "safe"
        assert not verdict.detected
        assert verdict.confidence == 0.0


async def test_violent_crimes_is_medium_violence() -> None:
    classifier = guard_for(guard_engine("unsafe\nS1"))
    [verdicts] = await asyncio.to_thread(classifier.classify, ["text"])
    assert verdicts["violence"].detected
    assert verdicts["violence"].severity == "medium"
    assert verdicts["violence"].confidence == 1.0
    for label in ("hate", "sexual", "self_harm"):
        assert verdicts[label].severity == "safe"
        assert not verdicts[label].detected


async def test_several_codes_flag_several_categories() -> None:
    classifier = guard_for(guard_engine("unsafe\nS10,S11"))
    [verdicts] = await asyncio.to_thread(classifier.classify, ["text"])
    flagged = {label for label, verdict in verdicts.items() if verdict.detected}
    assert flagged == {"hate", "self_harm"}
    assert verdicts["hate"].severity == verdicts["self_harm"].severity == "medium"


@pytest.mark.parametrize(
    ("answer", "flagged"),
    [
        ("unsafe\nS9", {"violence"}),
        ("unsafe\nS3", {"sexual"}),
        ("unsafe\nS4", {"sexual"}),
        ("unsafe\nS12", {"sexual"}),
        ("unsafe\nS1,S9", {"violence"}),
        ("unsafe\nS2", set()),
        ("unsafe\nS5,S14", set()),
        ("unsafe\nS2,S12", {"sexual"}),
    ],
)
async def test_code_mapping(answer: str, flagged: set[str]) -> None:
    classifier = guard_for(guard_engine(answer))
    [verdicts] = await asyncio.to_thread(classifier.classify, ["text"])
    assert {label for label, verdict in verdicts.items() if verdict.detected} == flagged
    for label, verdict in verdicts.items():
        assert verdict.severity == ("medium" if label in flagged else "safe")


@pytest.mark.parametrize(
    ("answer", "codes"),
    [
        ("safe", set()),
        ("  Safe \n", set()),
        ("SAFE", set()),
        ("unsafe\nS1", {"S1"}),
        ("\n Unsafe \n s10 , S11 \n", {"S10", "S11"}),
        ("unsafe\nS01", {"S1"}),
    ],
)
def test_parse_accepts_whitespace_and_case(answer: str, codes: set[str]) -> None:
    assert parse_guard_answer(answer) == codes


@pytest.mark.parametrize(
    "answer",
    [
        "",
        "   ",
        "I cannot help with that.",
        "safe.",
        "safe\nS1",
        "unsafe",
        "unsafe\n",
        "unsafe\nS15",
        "unsafe\nS0",
        "unsafe\nS1,",
        "unsafe\nviolence",
        "unsafe\nS1\nS2",
        "unsafe S1",
    ],
)
def test_parse_rejects_other_answers(answer: str) -> None:
    with pytest.raises(ValueError):
        parse_guard_answer(answer)


async def test_garbage_answer_raises() -> None:
    classifier = guard_for(guard_engine("Sure! Here is a poem about llamas."))
    with pytest.raises(ClassifierError, match="unusable answer"):
        await asyncio.to_thread(classifier.classify, ["text"])


async def test_unsafe_without_categories_raises() -> None:
    classifier = guard_for(guard_engine("unsafe"))
    with pytest.raises(ClassifierError):
        await asyncio.to_thread(classifier.classify, ["text"])


async def test_engine_error_raises() -> None:
    engine = guard_engine("safe")
    engine.behaviour.fail_after_tokens = 0
    classifier = guard_for(engine)
    with pytest.raises(ClassifierError, match="failed"):
        await asyncio.to_thread(classifier.classify, ["text"])


async def test_unknown_model_raises() -> None:
    engine = guard_engine("safe")
    classifier = GuardClassifier(engine, "not-served", asyncio.get_running_loop())
    with pytest.raises(ClassifierError, match="not-served"):
        await asyncio.to_thread(classifier.classify, ["text"])


async def test_cut_off_answer_raises() -> None:
    long_answer = "unsafe\nS1" + " S2" * (MAX_ANSWER_TOKENS + 5)
    classifier = guard_for(guard_engine(long_answer))
    with pytest.raises(ClassifierError, match="cut off"):
        await asyncio.to_thread(classifier.classify, ["text"])


async def test_timeout_raises_and_aborts_the_generation() -> None:
    engine = guard_engine("safe")
    engine.behaviour.token_delay_s = 30.0
    classifier = guard_for(engine, timeout_s=0.3)
    started = time.monotonic()
    with pytest.raises(ClassifierError, match="did not answer within"):
        await asyncio.to_thread(classifier.classify, ["text"])
    assert time.monotonic() - started < 2.0
    for _ in range(50):
        if engine.aborted:
            break
        await asyncio.sleep(0.01)
    assert engine.aborted == [engine.requests[0].request_id]
    assert not engine.active


async def test_called_on_the_loop_thread_raises_instead_of_hanging() -> None:
    engine = guard_engine("safe")
    classifier = guard_for(engine)
    with pytest.raises(ClassifierError, match="worker thread"):
        classifier.classify(["text"])
    assert engine.requests == []


async def test_loop_not_running_raises() -> None:
    loop = asyncio.new_event_loop()
    try:
        classifier = GuardClassifier(guard_engine(), GUARD_MODEL, loop)
        with pytest.raises(ClassifierError, match="not running"):
            await asyncio.to_thread(classifier.classify, ["text"])
    finally:
        loop.close()


async def test_empty_batch() -> None:
    engine = guard_engine()
    classifier = guard_for(engine)
    assert await asyncio.to_thread(classifier.classify, []) == []
    assert engine.requests == []


async def test_batch_keeps_order() -> None:
    answers = {"alpha": "unsafe\nS10", "bravo": "safe", "charlie": "unsafe\nS12", "delta": "safe"}

    def reply(request: GenerationRequest) -> str:
        return next(
            answer for word, answer in answers.items() if f"User: {word}\n" in sent_text(request)
        )

    engine = guard_engine()
    engine.behaviour.reply = reply
    engine.behaviour.token_delay_s = 0.01
    classifier = guard_for(engine)
    texts = ["alpha", "bravo", "charlie", "delta", "bravo"]
    results = await asyncio.to_thread(classifier.classify, texts)
    flagged = [
        {label for label, verdict in result.items() if verdict.detected} for result in results
    ]
    assert flagged == [{"hate"}, set(), {"sexual"}, set(), set()]
    assert len(engine.requests) == len(texts)


async def test_concurrency_is_bounded() -> None:
    engine = guard_engine()
    others_active: list[int] = []

    def reply(request: GenerationRequest) -> str:
        others_active.append(len(engine.active))
        return "safe"

    engine.behaviour.reply = reply
    engine.behaviour.token_delay_s = 0.05
    classifier = guard_for(engine, max_concurrency=2)
    await asyncio.to_thread(classifier.classify, [f"text {i}" for i in range(6)])
    assert max(others_active) == 1


async def test_prompt_sent_to_the_engine() -> None:
    engine = guard_engine("safe")
    classifier = guard_for(engine)
    await asyncio.to_thread(classifier.classify, ["How do I pick a lock?"])
    [request] = engine.requests
    assert request.model == GUARD_MODEL
    assert request.prompt is None
    assert request.messages is not None
    [message] = request.messages
    assert message.role == "user"
    assert message.content == build_guard_prompt("How do I pick a lock?")
    assert "User: How do I pick a lock?" in message.content
    assert "<BEGIN UNSAFE CONTENT CATEGORIES>" in message.content
    for line in (
        "S1: Violent Crimes.",
        "S2: Non-Violent Crimes.",
        "S3: Sex Crimes.",
        "S4: Child Exploitation.",
        "S5: Defamation.",
        "S6: Specialized Advice.",
        "S7: Privacy.",
        "S8: Intellectual Property.",
        "S9: Indiscriminate Weapons.",
        "S10: Hate.",
        "S11: Self-Harm.",
        "S12: Sexual Content.",
        "S13: Elections.",
        "S14: Code Interpreter Abuse.",
    ):
        assert f"\n{line}\n" in message.content
    assert "First line must read 'safe' or 'unsafe'." in message.content
    assert request.sampling.temperature == 0.0
    assert request.sampling.max_tokens == MAX_ANSWER_TOKENS
    assert request.sampling.n == 1


def test_invalid_settings() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError):
            GuardClassifier(guard_engine(), GUARD_MODEL, loop, timeout_s=0)
        with pytest.raises(ValueError):
            GuardClassifier(guard_engine(), GUARD_MODEL, loop, max_concurrency=0)
    finally:
        loop.close()
