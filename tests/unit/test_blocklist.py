"""Custom blocklists: whole-word terms, linear-time patterns, refusals that say why."""

from __future__ import annotations

import random
import string
import time

import pytest

from atrium.errors import InvalidRequestError
from atrium.safety.blocklist import (
    MAX_ITEMS,
    Blocklist,
    BlocklistError,
    BlocklistMatch,
    pattern_problem,
)


def hits(blocklist: Blocklist, text: str) -> list[tuple[str, str]]:
    return [(match.item, text[match.start : match.end]) for match in blocklist.find(text)]


def test_terms_match_whole_words_ignoring_case() -> None:
    words = Blocklist("words", terms=["ass", "darn"])
    assert hits(words, "Ass. You ASS, darn!") == [("ass", "Ass"), ("ass", "ASS"), ("darn", "darn")]
    assert hits(words, "class pass bass assess passage; darned, undarn") == []
    assert hits(words, "ass,ass ass") == [("ass", "ass")] * 3  # adjacent matches all found


def test_term_boundaries_are_unicode_aware() -> None:
    words = Blocklist("words", terms=["ass", "straße", "σοφός"])
    assert hits(words, "éass assé") == []  # letters RE2's ASCII \b would not see
    assert hits(words, "« ass »") == [("ass", "ass")]
    assert hits(words, "STRASSE? Straße!") == [("straße", "Straße")]
    assert hits(words, "ΣΟΦΌΣ") == [("σοφός", "ΣΟΦΌΣ")]


def test_phrases_match_across_any_whitespace() -> None:
    phrases = Blocklist("phrases", terms=["bad  guy"])
    assert hits(phrases, "the BAD\tguy and the bad\n guy") == [
        ("bad  guy", "BAD\tguy"),
        ("bad  guy", "bad\n guy"),
    ]
    assert hits(phrases, "badguy, bad guys") == []


def test_longest_term_wins_at_one_place() -> None:
    terms = Blocklist("t", terms=["foo", "foo bar"])
    assert hits(terms, "foo bar baz foo") == [("foo bar", "foo bar"), ("foo", "foo")]
    # a longer term that fails its boundary does not hide a shorter one that holds
    terms = Blocklist("t", terms=["foo ba", "bar"])
    assert hits(terms, "foo bar") == [("bar", "bar")]


def test_terms_with_symbols_and_scripts_without_spaces() -> None:
    terms = Blocklist("t", terms=["c++", "@handle", "坏词", "$$$"])
    assert hits(terms, "I write c++, not abc++") == [("c++", "c++")]
    assert hits(terms, "ping hi@handle now") == [("@handle", "@handle")]
    assert hits(terms, "这是坏词吗") == [("坏词", "坏词")]
    assert hits(terms, "win$$$now") == [("$$$", "$$$")]


def test_offsets_are_character_offsets() -> None:
    terms = Blocklist("t", terms=["secret project"], patterns=[r"code-\d+"])
    text = "🙂 Über das SECRET  project — code-42 ✓"
    matches = terms.find(text)
    phrase, code = text.index("SECRET"), text.index("code-42")
    assert matches == [
        BlocklistMatch("t", "secret project", phrase, phrase + 15, is_regex=False),
        BlocklistMatch("t", r"code-\d+", code, code + 7, is_regex=True),
    ]
    assert [text[m.start : m.end] for m in matches] == ["SECRET  project", "code-42"]


def test_patterns_are_re2_and_report_which_matched() -> None:
    blocklist = Blocklist(
        "p", patterns=[r"\bproject\s+\w+", r"(?i)internal[-_ ]only", r"\d{3}-\d{4}"]
    )
    text = "Project X is INTERNAL-only; project Falcon, call 555-0199."
    assert hits(blocklist, text) == [
        (r"(?i)internal[-_ ]only", "INTERNAL-only"),
        (r"\bproject\s+\w+", "project Falcon"),
        (r"\d{3}-\d{4}", "555-0199"),
    ]  # patterns are case-sensitive unless they say (?i): "Project X" is not a hit


def test_a_term_and_a_pattern_can_both_report_the_same_words() -> None:
    blocklist = Blocklist("both", terms=["falcon"], patterns=[r"fal\w+"])
    assert [(m.item, m.is_regex) for m in blocklist.find("Falcon falcon")] == [
        ("falcon", False),
        ("falcon", False),
        (r"fal\w+", True),
    ]


def test_duplicate_terms_are_reported_once() -> None:
    blocklist = Blocklist("d", terms=["Spam", "spam", " SPAM "])
    assert hits(blocklist, "spam") == [("Spam", "spam")]


def test_empty_list_finds_nothing() -> None:
    assert Blocklist("empty").find("anything at all") == []
    assert Blocklist("words", terms=["x"], patterns=["y"]).find("") == []


def test_pathological_pattern_is_harmless() -> None:
    blocklist = Blocklist("redos", patterns=[r"(a+)+$"])  # exponential in a backtracking engine
    text = "a" * 50_000 + "b"
    started = time.perf_counter()
    assert blocklist.find(text) == []
    assert time.perf_counter() - started < 1.0
    assert hits(blocklist, "xaaa") == [(r"(a+)+$", "aaa")]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a)\1", "backreferences are not supported"),
        (r"(?P<word>\w+) (?P=word)", "named backreferences are not supported"),
        (r"foo(?=bar)", "lookahead and lookbehind are not supported"),
        (r"(?<!no )way", "lookahead and lookbehind are not supported"),
        (r"[a-", "not a valid RE2 regular expression (missing ]: [a-)"),
        (r"a{1001}", "repetition counts are limited to 1000"),
        (r"a*", "matches empty text"),
        (r"\b", "matches empty text"),
        ("x" * 1001, "1001 characters long; at most 1000"),
    ],
)
def test_unusable_patterns_are_refused_with_the_reason(
    pattern: str, why: str, capfd: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(BlocklistError) as raised:
        Blocklist("mine", terms=["ok"], patterns=[r"fine\d", pattern])
    error = raised.value
    assert isinstance(error, InvalidRequestError)
    assert error.param == "blocklists"
    assert error.blocklist == "mine" and error.item == pattern
    assert error.message.startswith("blocklist 'mine': pattern #2 ")
    assert why in error.message
    assert pattern_problem(pattern) is not None
    assert capfd.readouterr().err == ""  # RE2 does not log the parse error to stderr


def test_backreference_message_reads_well() -> None:
    with pytest.raises(BlocklistError) as raised:
        Blocklist("mine", patterns=[r"(a)\1"])
    assert raised.value.message == (
        "blocklist 'mine': pattern #1 '(a)\\\\1': backreferences are not supported: patterns "
        "use RE2 syntax, which matches in linear time and so has no backreferences "
        "(invalid escape sequence: \\1)"
    )


def test_pattern_problem_accepts_good_patterns() -> None:
    assert pattern_problem(r"(?i)\bproject\s+(falcon|eagle)\b") is None
    assert pattern_problem(r"(a+)+$") is None


@pytest.mark.parametrize(
    ("terms", "why"),
    [
        (["ok", "   "], "term #2 is blank"),
        (["y" * 1001], "1001 characters long; at most 1000"),
    ],
)
def test_unusable_terms_are_refused(terms: list[str], why: str) -> None:
    with pytest.raises(BlocklistError, match=why):
        Blocklist("mine", terms=terms)


def test_at_most_ten_thousand_items() -> None:
    Blocklist("full", terms=[f"t{i}" for i in range(MAX_ITEMS - 1)], patterns=["p"])
    with pytest.raises(BlocklistError, match="10001 items; at most 10000"):
        Blocklist("over", terms=[f"t{i}" for i in range(MAX_ITEMS)], patterns=["p"])


def random_words(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(5, 12))))
    return sorted(words)


def test_ten_thousand_terms_on_2000_characters(capsys: pytest.CaptureFixture[str]) -> None:
    terms = random_words(MAX_ITEMS, seed=1)
    started = time.perf_counter()
    blocklist = Blocklist("big", terms=terms)
    compiled_s = time.perf_counter() - started

    rng = random.Random(2)
    planted = rng.sample(terms, 20)
    parts: list[str] = []
    expected: list[tuple[str, str]] = []
    for index in range(220):
        if index % 11 == 5:
            term = planted[index // 11]
            shown = term.upper() if index % 2 else term.capitalize()
            parts.append(shown + ",")
            expected.append((term, shown))
        elif index % 11 == 8:
            parts.append("x" + planted[index // 11])  # glued: must not match
        else:
            parts.append("zz" + "".join(rng.choice("qxjv") for _ in range(5)))
    text = " ".join(parts)[:2000]
    expected = [(term, shown) for term, shown in expected if shown in text]

    assert hits(blocklist, text) == expected
    runs = 100
    started = time.perf_counter()
    for _ in range(runs):
        blocklist.find(text)
    find_s = (time.perf_counter() - started) / runs
    with capsys.disabled():
        print(
            f"\nblocklist: 10,000 terms compiled in {compiled_s * 1e3:.0f} ms; "
            f"find on {len(text)} characters: {find_s * 1e6:.0f} µs ({len(expected)} hits)"
        )


def test_ten_thousand_patterns_name_the_one_that_matched(
    capsys: pytest.CaptureFixture[str],
) -> None:
    words = random_words(MAX_ITEMS, seed=3)
    patterns = [rf"\b{word}-\d+" for word in words]
    started = time.perf_counter()
    blocklist = Blocklist("codes", patterns=patterns)
    compiled_s = time.perf_counter() - started

    rng = random.Random(4)
    chosen = rng.sample(range(MAX_ITEMS), 15)
    text = " ".join(f"{words[i]}-{i} and x{words[i]}-1 and {words[i]}-" for i in chosen)
    assert len(text) < 2_000
    assert hits(blocklist, text) == [(patterns[i], f"{words[i]}-{i}") for i in chosen]
    runs = 20
    started = time.perf_counter()
    for _ in range(runs):
        blocklist.find(text)
    find_s = (time.perf_counter() - started) / runs
    with capsys.disabled():
        print(
            f"\nblocklist: 10,000 patterns compiled in {compiled_s * 1e3:.0f} ms; "
            f"find on {len(text)} characters: {find_s * 1e6:.0f} µs ({len(chosen)} hits)"
        )
