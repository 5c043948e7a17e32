"""Prompts for the load generator: varied chat requests and long system prompts."""

from __future__ import annotations

import random
from typing import Any

Message = dict[str, Any]

# Asking for something long keeps a greedy model generating until max_tokens.
USER_PROMPTS: tuple[str, ...] = (
    "Write a detailed essay about the history of the printing press and its effect on Europe.",
    "Explain, step by step and in depth, how a refrigerator moves heat from inside to outside.",
    "Tell me a long story about a lighthouse keeper who finds a message in a bottle.",
    "Describe the water cycle in detail, covering evaporation, condensation and precipitation.",
    "List twenty practical tips for someone learning to cook at home, with an explanation each.",
    "What are the main differences between TCP and UDP? Explain with examples.",
    "Write a long letter to a friend describing a trip through the mountains of Norway.",
    "Explain how vaccines train the immune system. Be thorough and use simple words.",
    "Give me a detailed weekly training plan for a beginner who wants to run 10 kilometres.",
    "Summarise the plot of a fantasy novel you invent, chapter by chapter.",
    "How does a compiler turn source code into machine code? Walk through every stage.",
    "Write a long poem about autumn in a small village.",
    "Explain photosynthesis to a twelve-year-old, then again to a university student.",
    "Describe how to plan a vegetable garden: soil, sunlight, watering, and crop rotation.",
    "What is inflation, what causes it, and how do central banks respond? Explain at length.",
    "Write a product description for a handmade wooden desk, then a longer blog post about it.",
    "Explain the rules of chess and give advice for the opening, middle game and endgame.",
    "Tell me about the solar system, planet by planet, with a few facts about each.",
    "hi! can you tell me everything you know about cats?",
    "Write a detailed recipe for bread, including the science of why each step matters.",
    "Compare three programming languages of your choice in detail: strengths and weaknesses.",
    "Explain how the internet works, from typing a URL to seeing a web page.",
    "Write a dialogue between a teacher and a student about why the sky is blue.",
    "Describe a day in the life of a medieval blacksmith in as much detail as you can.",
    "What should I consider when buying a used car? Give a long and complete checklist.",
    "Explain what a database index is and why it speeds up queries. Include examples.",
    "Write a motivational speech for a team that has just lost an important match.",
    "Describe the process of making paper, from the tree to the finished sheet.",
    "Explain the causes of the seasons on Earth and common misconceptions about them.",
    "Write a long, friendly email inviting colleagues to a summer picnic, with all details.",
    "Give a detailed overview of how electric cars work and how they differ from petrol cars.",
    "Teach me the basics of music theory: notes, scales, chords and rhythm.",
    "Write a short story in which a robot learns to paint. Make it long and descriptive.",
    "Explain recursion with several examples, then explain when not to use it.",
    "What are good habits for sleeping well? Explain each one and why it helps.",
    "Describe the life cycle of a star, from nebula to its final state.",
    "Write a travel guide for a weekend in Rome: sights, food, and tips.",
    "Explain how to write a good cover letter, and then write an example one.",
    "What is machine learning? Explain the main ideas and give everyday examples.",
    "Describe how bees make honey and why bees matter for agriculture.",
)

SYSTEM_PROMPTS: tuple[str, ...] = (
    "You are a helpful assistant.",
    "You are a patient teacher. Answer thoroughly, with examples.",
    "You are a creative writer who loves long, vivid descriptions.",
    "You are a concise expert, but when asked for detail you give a complete answer.",
)

_WORD_TEXT = (
    "policy customer service account order refund shipping warranty product support "
    "guideline response friendly accurate escalate manager billing invoice delivery "
    "address schedule return exchange damaged missing tracking number priority ticket "
    "language tone polite verify identity privacy data security payment card subscription "
    "renewal cancel upgrade downgrade discount coupon loyalty points store hours holiday "
    "inventory stock backorder estimate region tax receipt document record note summary"
)
_WORDS = tuple(_WORD_TEXT.split())


def chat_messages(index: int) -> list[Message]:
    """The index-th request of a run: a user question, every third one with a system prompt."""
    user = USER_PROMPTS[index % len(USER_PROMPTS)]
    messages: list[Message] = []
    if index % 3 == 0:
        system = SYSTEM_PROMPTS[(index // 3) % len(SYSTEM_PROMPTS)]
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    return messages


def long_system_prompt(seed: int, words: int = 395) -> str:
    """A pseudo-random instruction-like system prompt; about 500 tokens for 395 words.

    Different seeds give prompts of about the same length that differ from the very first
    words, so one seed's KV cache is no use to another's.
    """
    rng = random.Random(seed)
    sentences = [f"{rng.choice(_WORDS).capitalize()} {rng.choice(_WORDS)} manual {seed}."]
    count = 0
    while count < words:
        sentence = [rng.choice(_WORDS) for _ in range(rng.randint(8, 14))]
        sentences.append(" ".join(sentence).capitalize() + ".")
        count += len(sentence)
    return " ".join(sentences)
