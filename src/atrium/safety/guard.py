"""A content classifier that asks a safety-tuned guard model (Llama Guard 3) about each text.

How an operator uses it: add a deployment that serves a Llama Guard 3 GGUF the operator
provides (``Llama-Guard-3-8B`` or ``-1B``, any quantisation) on any Atrium engine, and name
that deployment in the ``safety_guard_deployment`` setting. The gateway then builds a
``GuardClassifier`` on the engine serving it, with the app's event loop, and the content
filter calls ``classify`` from its worker threads. Nothing here downloads a model.

For each text it runs one greedy generation (temperature 0, at most ``MAX_ANSWER_TOKENS``
tokens) whose single user message is Llama Guard 3's published moderation prompt: the task,
the category list S1-S14 and the text as the ``User`` turn of the conversation to moderate.
The engine wraps that message in the model's chat template. (A GGUF whose embedded template
is Llama Guard's own, which builds this prompt around the user message by itself, then sees
the instruction twice; the deployment should use a plain Llama 3 chat template.)

The answer is ``safe``, or ``unsafe`` and a line of comma-separated category codes. They
map to Atrium's harm categories:

========================================================  =============
Llama Guard 3 categories                                  Atrium label
========================================================  =============
S1 Violent Crimes, S9 Indiscriminate Weapons              ``violence``
S10 Hate                                                  ``hate``
S11 Suicide & Self-Harm                                   ``self_harm``
S3 Sex-Related Crimes, S4 Child Sexual Exploitation,      ``sexual``
S12 Sexual Content
========================================================  =============

The other codes (S2 Non-Violent Crimes, S5 Defamation, S6 Specialized Advice, S7 Privacy,
S8 Intellectual Property, S13 Elections, S14 Code Interpreter Abuse) have no Atrium
category: a text flagged only for them gets no detection here. Llama Guard has no
prompt-attack category either (S14 is about abusing a code interpreter, not about
jailbreaks), so this classifier does not claim ``jailbreak``.

Llama Guard gives no severity, only safe or unsafe. A flagged category is reported at
``medium``, the level content policies block at by default, so a flag blocks under the
default policy and a policy that only blocks ``high`` lets guard flags through. The answer
is a hard decision, so the confidence (the probability of the label) is 1.0 for a flagged
label and 0.0 for the others.

An answer that is neither of those shapes, an engine error or a generation that does not
finish within ``timeout_s`` raises ``ClassifierError``: a text the guard could not judge is
never reported clean.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import uuid
from collections.abc import Mapping, Sequence

from atrium.engines.base import (
    ChatMessage,
    Engine,
    FinishReason,
    GenerationFinished,
    GenerationRequest,
    SamplingParams,
    TokenDelta,
)
from atrium.safety.classifier import ClassifierError, Verdict
from atrium.safety.results import HARM_CATEGORIES

MAX_ANSWER_TOKENS = 48
"""Room for ``unsafe`` and all fourteen codes; a plain ``safe`` stops after a token or two."""

GUARD_CATEGORIES: Mapping[str, str] = {
    "S1": "Violent Crimes",
    "S2": "Non-Violent Crimes",
    "S3": "Sex Crimes",
    "S4": "Child Exploitation",
    "S5": "Defamation",
    "S6": "Specialized Advice",
    "S7": "Privacy",
    "S8": "Intellectual Property",
    "S9": "Indiscriminate Weapons",
    "S10": "Hate",
    "S11": "Self-Harm",
    "S12": "Sexual Content",
    "S13": "Elections",
    "S14": "Code Interpreter Abuse",
}
"""The category list as Llama Guard 3's prompt spells it (the short names it was trained
with; its model card's hazard names are "Sex-Related Crimes", "Child Sexual Exploitation",
"Suicide & Self-Harm")."""

CODE_TO_LABEL: Mapping[str, str] = {
    "S1": "violence",
    "S9": "violence",
    "S10": "hate",
    "S11": "self_harm",
    "S3": "sexual",
    "S4": "sexual",
    "S12": "sexual",
}
"""Guard codes with an Atrium harm category; the other codes flag nothing."""

PROMPT_TEMPLATE = """\
Task: Check if there is unsafe content in 'User' messages in conversations according our \
safety policy with the below categories.

<BEGIN UNSAFE CONTENT CATEGORIES>
{categories}
<END UNSAFE CONTENT CATEGORIES>

<BEGIN CONVERSATION>

User: {text}

<END CONVERSATION>

Provide your safety assessment for ONLY THE LAST User message in the above conversation:
 - First line must read 'safe' or 'unsafe'.
 - If unsafe, a second line must include a comma-separated list of violated categories."""

_CODE = re.compile(r"S(\d{1,2})", re.IGNORECASE)


def build_guard_prompt(text: str) -> str:
    """Llama Guard 3's moderation instruction for ``text`` as the user turn."""
    categories = "\n".join(f"{code}: {name}." for code, name in GUARD_CATEGORIES.items())
    return PROMPT_TEMPLATE.format(categories=categories, text=text)


def parse_guard_answer(answer: str) -> frozenset[str]:
    """The category codes an answer flags (empty for ``safe``), normalised to ``S<n>``.

    Surrounding whitespace and case are ignored. Raises ``ValueError`` for anything else:
    other text, ``unsafe`` without categories, an unknown or malformed code.
    """
    lines = [line.strip() for line in answer.strip().splitlines()]
    verdict = lines[0].lower() if lines else ""
    if verdict == "safe" and len(lines) == 1:
        return frozenset()
    if verdict != "unsafe" or len(lines) != 2:
        raise ValueError(f"expected 'safe' or 'unsafe' and a line of categories, got {answer!r}")
    codes: set[str] = set()
    for item in lines[1].split(","):
        match = _CODE.fullmatch(item.strip())
        code = f"S{int(match.group(1))}" if match else None
        if code is None or code not in GUARD_CATEGORIES:
            raise ValueError(f"unknown guard category {item.strip()!r} in {answer!r}")
        codes.add(code)
    return frozenset(codes)


def verdicts_for_codes(codes: frozenset[str]) -> dict[str, Verdict]:
    """One verdict per harm category: ``medium`` for those the codes map to, else ``safe``."""
    flagged = {CODE_TO_LABEL[code] for code in codes if code in CODE_TO_LABEL}
    return {
        label: (
            Verdict(label, detected=True, confidence=1.0, severity="medium")
            if label in flagged
            else Verdict(label, detected=False, confidence=0.0, severity="safe")
        )
        for label in HARM_CATEGORIES
    }


class GuardClassifier:
    """A ``TextClassifier`` backed by a Llama Guard 3 model served by an Atrium engine.

    ``classify`` is synchronous and must run on a thread other than ``loop``'s: it schedules
    the generations on ``loop`` and blocks until they finish. At most ``max_concurrency``
    generations of this classifier run at once; ``timeout_s`` bounds one whole ``classify``
    call (every text of the batch), after which the unfinished generations are aborted.
    """

    def __init__(
        self,
        engine: Engine,
        model: str,
        loop: asyncio.AbstractEventLoop,
        *,
        timeout_s: float = 10.0,
        max_concurrency: int = 4,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self._engine = engine
        self._model = model
        self._loop = loop
        self._timeout_s = timeout_s
        self._semaphore = asyncio.Semaphore(max_concurrency)

    @property
    def name(self) -> str:
        return "guard"

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(HARM_CATEGORIES)

    def classify(self, texts: Sequence[str]) -> list[Mapping[str, Verdict]]:
        texts = list(texts)
        if not texts:
            return []
        self._check_caller()
        futures = [
            asyncio.run_coroutine_threadsafe(self._classify_one(text), self._loop) for text in texts
        ]
        done, pending = concurrent.futures.wait(
            futures, timeout=self._timeout_s, return_when=concurrent.futures.FIRST_EXCEPTION
        )
        for future in pending:
            future.cancel()  # closes the generation on the loop, which aborts it
        for future in futures:  # in order, so the error reported is the first text's
            if future not in done:
                continue
            if future.cancelled():
                raise ClassifierError(f"guard model {self._model!r}: generation cancelled")
            error = future.exception()
            if isinstance(error, ClassifierError):
                raise error
            if error is not None:
                raise ClassifierError(f"guard model {self._model!r} failed: {error}") from error
        if pending:
            raise ClassifierError(
                f"guard model {self._model!r} did not answer within {self._timeout_s:g}s"
            )
        return [future.result() for future in futures]

    def _check_caller(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            raise ClassifierError(
                "GuardClassifier.classify blocks on its event loop and must be called from a "
                "worker thread, not from the loop's own thread"
            )
        if self._loop.is_closed() or not self._loop.is_running():
            raise ClassifierError("the guard classifier's event loop is not running")

    async def _classify_one(self, text: str) -> Mapping[str, Verdict]:
        async with self._semaphore:
            answer = await self._ask(text)
        try:
            codes = parse_guard_answer(answer)
        except ValueError as exc:
            raise ClassifierError(
                f"guard model {self._model!r} gave an unusable answer: {exc}"
            ) from exc
        return verdicts_for_codes(codes)

    async def _ask(self, text: str) -> str:
        request = GenerationRequest(
            request_id=f"guard-{uuid.uuid4().hex}",
            model=self._model,
            sampling=SamplingParams(max_tokens=MAX_ANSWER_TOKENS, temperature=0.0),
            messages=(ChatMessage(role="user", content=build_guard_prompt(text)),),
        )
        parts: list[str] = []
        finish: FinishReason | None = None
        stream = self._engine.generate(request)
        try:
            async for event in stream:
                if isinstance(event, TokenDelta) and event.choice == 0:
                    parts.append(event.text)
                elif isinstance(event, GenerationFinished) and event.choice == 0:
                    finish = event.finish_reason
        except Exception as exc:
            raise ClassifierError(f"guard model {self._model!r} failed: {exc}") from exc
        finally:
            await stream.aclose()
        answer = "".join(parts)
        if finish == "length":
            raise ClassifierError(
                f"guard model {self._model!r} answer was cut off after "
                f"{MAX_ANSWER_TOKENS} tokens: {answer!r}"
            )
        return answer
