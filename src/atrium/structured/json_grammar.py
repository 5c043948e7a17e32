"""GBNF building blocks for JSON (llama.cpp grammar syntax).

Shared by the JSON Schema converter (``schema_gbnf.py``) and ``JSON_OBJECT_GBNF``.
Compared with llama.cpp's ``JSON_GBNF`` / ``json_schema_to_gbnf`` primitives:

* strings never contain raw control characters (U+0000-U+001F); escapes are allowed, ``\\u``
  escapes exclude the surrogate range, so every ``char`` is exactly one code point (this makes
  ``minLength``/``maxLength`` exact);
* whitespace between tokens is bounded (``ws``: nothing, one space, or one newline followed by up to
  20 spaces/tabs), so a small model cannot loop forever in whitespace;
* integers have at most 16 digits, fractions at most 16 digits, exponents at most 2 digits
  (a documented subset of JSON numbers that keeps the output finite and short).

Every value rule ends with ``ws``; containers put ``ws`` after ``{``, ``[``, ``,`` and ``:``
only, so the grammars stay unambiguous.
"""

from __future__ import annotations

from typing import Final

INT_DIGITS: Final = 16
"""Longest integer part the generic number rules allow."""

HEX: Final = "[0-9a-fA-F]"

PRIMITIVES: Final[dict[str, str]] = {
    "ws": '( " " | "\\n" [ \\t]{0,20} )?',
    "char": (
        '[^"\\\\\\x00-\\x1F] | "\\\\" ( ["\\\\/bfnrt] | "u" '
        "( [0-9a-cA-CeEfF] [0-9a-fA-F]{3} | [dD] [0-7] [0-9a-fA-F]{2} ) )"
    ),
    "string": '"\\"" char* "\\"" ws',
    "integer": f'"-"? ( "0" | [1-9] [0-9]{{0,{INT_DIGITS - 1}}} ) ws',
    "number": (
        f'"-"? ( "0" | [1-9] [0-9]{{0,{INT_DIGITS - 1}}} ) ( "." [0-9]{{1,{INT_DIGITS}}} )? '
        "( [eE] [-+]? [0-9]{1,2} )? ws"
    ),
    "boolean": '( "true" | "false" ) ws',
    "null": '"null" ws',
    "value": "object | array | string | number | boolean | null",
    "object": '"{" ws ( string ":" ws value ( "," ws string ":" ws value )* )? "}" ws',
    "array": '"[" ws ( value ( "," ws value )* )? "]" ws',
    # formats (the quotes are added by the converter)
    "year": '[0-9]{3} [1-9] | [0-9]{2} [1-9] "0" | [0-9] [1-9] "00" | [1-9] "000"',
    "leap-year": (
        '[0-9]{2} ( [02468] [48] | [13579] [26] | [2468] "0" ) '
        '| ( [02468] [48] | [13579] [26] | [2468] "0" ) "00"'
    ),
    "month-day": (
        '( "0" [13578] | "1" [02] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ) '
        '| ( "0" [469] | "11" ) "-" ( "0" [1-9] | [12] [0-9] | "30" ) '
        '| "02-" ( "0" [1-9] | "1" [0-9] | "2" [0-8] )'
    ),
    "date": 'year "-" month-day | leap-year "-02-29"',
    "time": (
        '( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,9} )? '
        '( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] )'
    ),
    "date-time": 'date "T" time',
    "uuid": f'{HEX}{{8}} "-" {HEX}{{4}} "-" {HEX}{{4}} "-" {HEX}{{4}} "-" {HEX}{{12}}',
}
"""Rule name -> body. Each rule may refer to other rules of this table only."""

DEPENDENCIES: Final[dict[str, tuple[str, ...]]] = {
    "ws": (),
    "char": (),
    "string": ("char", "ws"),
    "integer": ("ws",),
    "number": ("ws",),
    "boolean": ("ws",),
    "null": ("ws",),
    "value": ("object", "array", "string", "number", "boolean", "null"),
    "object": ("ws", "string", "value"),
    "array": ("ws", "value"),
    "year": (),
    "leap-year": (),
    "month-day": (),
    "date": ("year", "month-day", "leap-year"),
    "time": (),
    "date-time": ("date", "time"),
    "uuid": (),
}

STRING_FORMATS: Final = ("date", "date-time", "time", "uuid")
"""``format`` values enforced (RFC 3339 full-date / date-time / full-time, RFC 4122 uuid)."""


def closure(names: list[str]) -> list[str]:
    """The primitive rules ``names`` need, dependencies included, in a stable order."""
    seen: list[str] = []
    pending = list(names)
    while pending:
        name = pending.pop(0)
        if name not in seen:
            seen.append(name)
            pending.extend(DEPENDENCIES[name])
    return [name for name in PRIMITIVES if name in seen]


def grammar_text(rules: dict[str, str]) -> str:
    """Render ``name ::= body`` lines, ``root`` first."""
    ordered = sorted(rules, key=lambda name: name != "root")
    return "".join(f"{name} ::= {rules[name]}\n" for name in ordered)


JSON_OBJECT_GBNF: Final = grammar_text(
    {"root": "object", **{name: PRIMITIVES[name] for name in closure(["object"])}}
)
"""Any JSON object (``response_format: {"type": "json_object"}``), bounded whitespace."""
