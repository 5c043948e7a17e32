"""Custom blocklists: terms and regular expressions, compiled once, matched in linear time.

A ``Blocklist`` holds ``terms`` and ``patterns`` (Azure's blocklist items with ``isRegex``
false and true), at most ``MAX_ITEMS`` of them together, each at most ``MAX_ITEM_CHARS``
characters.

- A *term* matches as a whole word or phrase, ignoring case: ``ass`` matches "Ass." but not
  "class"; ``bad guy`` also matches "BAD   guy" (any whitespace between the words). The
  edges of a term only need a word boundary where the term has a letter or digit: ``c++``
  matches "c++," and ``@handle`` matches "hi@handle". Terms in scripts written without spaces
  (Chinese, Japanese, Thai...) match anywhere.
- A *pattern* is an RE2 regular expression (https://github.com/google/re2/wiki/Syntax),
  matched as written: case-sensitive unless it says ``(?i)``. RE2 runs in time linear in the
  text whatever the pattern, so no pattern can stall the gateway (``(a+)+$`` is harmless);
  the price is that backreferences and lookarounds do not exist. A pattern RE2 cannot
  compile, or one that matches empty text, is refused with a ``BlocklistError`` that names
  it and says why.

All terms are one RE2 alternation per kind of edge (at most four), all patterns another: a
text is scanned a few times, however many items the list has.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import re2

from atrium.errors import InvalidRequestError

# Azure's limits: items (terms and patterns together) per list, characters per item.
MAX_ITEMS = 10_000
MAX_ITEM_CHARS = 1_000
# Program memory for the combined alternations (RE2's default is 8 MiB): 10,000 terms of a
# dozen characters compile to about 70,000 instructions.
_COMBINED_MAX_MEM = 64 << 20


class BlocklistError(InvalidRequestError):
    """A blocklist that cannot be compiled: which list, which item, and why."""

    def __init__(self, message: str, *, blocklist: str, item: str | None = None) -> None:
        super().__init__(message, param="blocklists")
        self.blocklist = blocklist
        self.item = item


@dataclass(frozen=True, slots=True)
class BlocklistMatch:
    """An item of list ``blocklist`` found at ``start:end`` (character offsets)."""

    blocklist: str
    item: str
    start: int
    end: int
    is_regex: bool = False


def _options(*, longest: bool = True, max_mem: int | None = None) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every parse error to stderr
    options.longest_match = longest
    if max_mem is not None:
        options.max_mem = max_mem
    return options


# Leftmost-longest: among items matching at the same place, the longest wins (so an item
# that happens to match the empty string there never hides a real match).
_ITEM_OPTIONS = _options()
_COMBINED_OPTIONS = _options(max_mem=_COMBINED_MAX_MEM)
# Texts that an item matching empty text is very likely to match empty in (``\b``, ``^``).
_EMPTY_PROBES = (b"", b"a", b" ", b"a b", b"\n", b"0", b"-")


def _error_text(error: Exception) -> str:
    detail = error.args[0] if error.args else error
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


_LINEAR = "patterns use RE2 syntax, which matches in linear time and so has no"


def _explain(detail: str) -> str:
    if detail.startswith("invalid escape sequence: \\") and detail[-1:].isdigit():
        return f"backreferences are not supported: {_LINEAR} backreferences ({detail})"
    if detail.endswith("(?P") or "(?P=" in detail:
        return f"named backreferences are not supported: {_LINEAR} backreferences ({detail})"
    if "(?=" in detail or "(?!" in detail or "(?<" in detail:
        return f"lookahead and lookbehind are not supported: {_LINEAR} lookarounds ({detail})"
    if detail.startswith("invalid repetition size"):
        return f"repetition counts are limited to 1000 ({detail})"
    return f"not a valid RE2 regular expression ({detail})"


def pattern_problem(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a blocklist pattern, or None when it can. Usable from a
    settings validator without building a whole list."""
    if not pattern:
        return "the pattern is empty"
    if len(pattern) > MAX_ITEM_CHARS:
        return f"it is {len(pattern)} characters long; at most {MAX_ITEM_CHARS} are allowed"
    try:
        compiled = re2.compile(pattern, _ITEM_OPTIONS)
    except re2.error as error:
        return _explain(_error_text(error))
    for probe in _EMPTY_PROBES:
        found = compiled.search(probe)
        if found is not None and found.start() == found.end():
            return "the pattern matches empty text, so it would match every text"
    return None


def _no_space_script(char: str) -> bool:
    """Scripts written without spaces between words: a term in them matches anywhere."""
    name = unicodedata.name(char, "")
    return name.startswith(
        ("CJK ", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")
    )


def _needs_boundary(char: str) -> bool:
    return (char.isalnum() or char == "_") and not _no_space_script(char)


def _term_key(text: str) -> str:
    return " ".join(text.split()).lower()


# A word character, Unicode-aware (RE2's \b only knows ASCII).
_BOUNDARY_BEFORE = r"(?:^|[^\pL\pN\pM_])"
_BOUNDARY_AFTER = r"(?:$|[^\pL\pN\pM_])"


@dataclass(frozen=True, slots=True)
class _TermGroup:
    """The terms that share which of their edges need a word boundary: one alternation."""

    regex: Any
    fragments: dict[str, str]  # term key -> its regex fragment (for the rare lookup miss)


def _char_offsets(data: bytes, byte_offsets: Iterable[int]) -> dict[int, int]:
    """The character offset of each byte offset (each at a character boundary), in one pass."""
    result: dict[int, int] = {}
    chars = 0
    previous = 0
    for offset in sorted(set(byte_offsets)):
        chars += len(data[previous:offset].decode("utf-8"))
        result[offset] = chars
        previous = offset
    return result


class Blocklist:
    """A named list of terms and patterns, compiled once; ``find`` reports what a text
    contains. Raises ``BlocklistError`` for an item that cannot be used."""

    def __init__(self, name: str, terms: Iterable[str] = (), patterns: Iterable[str] = ()):
        if isinstance(terms, str) or isinstance(patterns, str):
            raise TypeError("terms and patterns are lists of strings, not one string")
        self.name = name
        self.terms = tuple(terms)
        self.patterns = tuple(patterns)
        count = len(self.terms) + len(self.patterns)
        if count > MAX_ITEMS:
            raise BlocklistError(
                f"blocklist {name!r} has {count} items; at most {MAX_ITEMS} are allowed",
                blocklist=name,
            )
        self._term_items: dict[str, str] = {}  # term key -> the term as given
        self._term_groups = self._compile_terms()
        self._pattern_items: list[tuple[str, Any]] = []
        self._patterns_regex = self._compile_patterns()
        self._pattern_set = self._compile_pattern_set()

    def __repr__(self) -> str:
        return f"Blocklist({self.name!r}, {len(self.terms)} terms, {len(self.patterns)} patterns)"

    def _fail(self, message: str, item: str) -> BlocklistError:
        return BlocklistError(f"blocklist {self.name!r}: {message}", blocklist=self.name, item=item)

    def _compile_terms(self) -> list[_TermGroup]:
        by_edges: dict[tuple[bool, bool], dict[str, str]] = {}
        for index, term in enumerate(self.terms):
            words = term.split()
            if not words:
                raise self._fail(f"term #{index + 1} is blank", term)
            if len(term) > MAX_ITEM_CHARS:
                raise self._fail(
                    f"term #{index + 1} ({term[:40]!r}...) is {len(term)} characters long; at "
                    f"most {MAX_ITEM_CHARS} are allowed",
                    term,
                )
            key = _term_key(term)
            if key in self._term_items:
                continue  # the same term again (maybe in other case or spacing)
            self._term_items[key] = term
            edges = (_needs_boundary(words[0][0]), _needs_boundary(words[-1][-1]))
            fragment = r"\s+".join(re2.escape(word) for word in words)
            by_edges.setdefault(edges, {})[key] = fragment
        groups: list[_TermGroup] = []
        for (before, after), fragments in by_edges.items():
            regex = (
                (_BOUNDARY_BEFORE if before else "")
                + "(?i)("
                + "|".join(fragments.values())
                + ")"
                + (_BOUNDARY_AFTER if after else "")
            )
            try:
                compiled = re2.compile(regex, _COMBINED_OPTIONS)
            except re2.error as error:  # only size can fail: every fragment is a literal
                raise BlocklistError(
                    f"blocklist {self.name!r}: its terms are too large to compile together "
                    f"({_error_text(error)})",
                    blocklist=self.name,
                ) from None
            groups.append(_TermGroup(compiled, fragments))
        return groups

    def _compile_patterns(self) -> Any:
        seen: set[str] = set()
        for index, pattern in enumerate(self.patterns):
            problem = pattern_problem(pattern)
            if problem is not None:
                raise self._fail(f"pattern #{index + 1} {pattern[:100]!r}: {problem}", pattern)
            if pattern not in seen:
                seen.add(pattern)
                self._pattern_items.append((pattern, re2.compile(pattern, _ITEM_OPTIONS)))
        if not self._pattern_items:
            return None
        combined = "|".join(f"(?:{pattern})" for pattern, _ in self._pattern_items)
        try:
            return re2.compile(combined, _COMBINED_OPTIONS)
        except re2.error:
            return None  # too large together: each is tried on its own (slower, same result)

    def _compile_pattern_set(self) -> Any:
        """All patterns as one RE2 set: one pass tells which of them occur in a text, so
        that naming the pattern behind each hit does not try every pattern."""
        if len(self._pattern_items) < 2:
            return None
        pattern_set = re2.Set.SearchSet(_COMBINED_OPTIONS)
        try:
            for pattern, _ in self._pattern_items:
                pattern_set.Add(pattern)
            pattern_set.Compile()
        except re2.error:
            return None
        return pattern_set

    def _patterns_in(self, data: bytes) -> list[tuple[str, Any]]:
        """The patterns that occur in ``data``, in list order (all, when the set is unsure)."""
        if self._pattern_set is not None:
            indexes = self._pattern_set.Match(data)
            if indexes:  # none or an empty list: out of memory, so no answer
                return [self._pattern_items[index] for index in sorted(indexes)]
        return self._pattern_items

    def find(self, text: str) -> list[BlocklistMatch]:
        """What of this list ``text`` contains, in order of position. Matches of one term
        never overlap each other, nor do matches of the patterns; a term and a pattern may
        both match the same words."""
        data = text.encode("utf-8")
        found: list[tuple[str, int, int, bool]] = []
        for group in self._term_groups:
            for start, end in _scan(group.regex, data, 1):
                found.append((self._term_at(group, data[start:end]), start, end, False))
        if self._patterns_regex is not None:
            spans = list(_scan(self._patterns_regex, data, 0))
            present = self._patterns_in(data) if spans else []
            for start, end in spans:
                found.append((_pattern_at(present, data, start, end), start, end, True))
        else:
            for pattern, compiled in self._pattern_items:
                for start, end in _scan(compiled, data, 0):
                    found.append((pattern, start, end, True))
        if len(data) == len(text):
            offsets = None
        else:
            offsets = _char_offsets(data, (edge for _, s, e, _ in found for edge in (s, e)))
        matches = [
            BlocklistMatch(
                self.name,
                item,
                start if offsets is None else offsets[start],
                end if offsets is None else offsets[end],
                is_regex,
            )
            for item, start, end, is_regex in found
        ]
        matches.sort(key=lambda match: (match.start, match.end, match.is_regex, match.item))
        return matches

    def _term_at(self, group: _TermGroup, matched: bytes) -> str:
        text = matched.decode("utf-8")
        term = self._term_items.get(_term_key(text))
        if term is not None:
            return term
        # RE2's case folding and str.lower() differ on a few letters (Greek final sigma...).
        for key, fragment in group.fragments.items():
            if re2.fullmatch("(?i)" + fragment, matched, _ITEM_OPTIONS) is not None:
                return self._term_items[key]
        return text


def _pattern_at(patterns: list[tuple[str, Any]], data: bytes, start: int, end: int) -> str:
    """The first of ``patterns`` that matches exactly ``start:end`` (in context, for ``^`` and
    ``\\b``): the alternative the combined regex took."""
    for pattern, compiled in patterns:
        found = compiled.match(data, start)
        if found is not None and found.end() == end:
            return pattern
    for pattern, compiled in patterns:  # not reached: a safe answer anyway
        if compiled.search(data, start) is not None:
            return pattern
    return patterns[0][0]


def _scan(regex: Any, data: bytes, group: int) -> Iterator[tuple[int, int]]:
    """Non-overlapping, non-empty spans of ``group`` of ``regex`` in ``data`` (byte offsets).
    The search resumes at the end of the group, so that the boundary character consumed after
    a term can be the boundary before the next one."""
    pos = 0
    while pos <= len(data):
        found = regex.search(data, pos)
        if found is None:
            return
        start: int
        end: int
        start, end = found.span(group)
        if end > start:
            yield start, end
            pos = end
        else:
            pos = max(found.end(), start + 1)
            while pos < len(data) and data[pos] & 0xC0 == 0x80:  # inside a UTF-8 sequence
                pos += 1
