"""JSON Schema -> GBNF converter: grammars compile with llama.cpp; a Python GBNF recognizer and
random walker check that documents generated from a grammar validate (jsonschema) and that valid
documents are admitted (hypothesis over schemas in the supported subset)."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import uuid
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from atrium.structured import JSON_OBJECT_GBNF, UnsupportedSchemaError, schema_to_gbnf

# -- a GBNF parser for the subset the converter writes -----------------------------------------

Expr = tuple[Any, ...]
_ESC = {"n": "\n", "t": "\t", "r": "\r"}


class _Parser:
    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def skip(self) -> None:
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def char(self) -> str:
        c = self.s[self.i]
        self.i += 1
        if c != "\\":
            return c
        c = self.s[self.i]
        self.i += 1
        width = {"x": 2, "u": 4, "U": 8}.get(c)
        if width:
            self.i += width
            return chr(int(self.s[self.i - width : self.i], 16))
        return _ESC.get(c, c)

    def alts(self) -> Expr:
        options = [self.seq()]
        while self.i < len(self.s) and self.s[self.i] == "|":
            self.i += 1
            options.append(self.seq())
        return ("alt", options)

    def seq(self) -> Expr:
        items = []
        while True:
            self.skip()
            if self.i >= len(self.s) or self.s[self.i] in "|)":
                return ("seq", items)
            items.append(self.quant(self.atom()))

    def atom(self) -> Expr:
        c = self.s[self.i]
        if c == '"':
            self.i += 1
            out = []
            while self.s[self.i] != '"':
                out.append(self.char())
            self.i += 1
            return ("lit", "".join(out))
        if c == "[":
            self.i += 1
            negated = self.s[self.i] == "^"
            self.i += negated
            ranges = []
            while self.s[self.i] != "]":
                lo = self.char()
                hi = lo
                if self.s[self.i] == "-" and self.s[self.i + 1] != "]":
                    self.i += 1
                    hi = self.char()
                ranges.append((lo, hi))
            self.i += 1
            return ("cls", negated, ranges)
        if c == "(":
            self.i += 1
            inner = self.alts()
            assert self.s[self.i] == ")"
            self.i += 1
            return inner
        m = re.compile(r"[a-zA-Z0-9-]+").match(self.s, self.i)
        assert m, f"bad grammar at {self.s[self.i :]!r}"
        self.i = m.end()
        return ("ref", m.group())

    def quant(self, e: Expr) -> Expr:
        if self.i >= len(self.s):
            return e
        c = self.s[self.i]
        if c in "*+?":
            self.i += 1
            return ("rep", e, 1 if c == "+" else 0, 1 if c == "?" else None)
        m = re.compile(r"\{(\d+)(,(\d*))?\}").match(self.s, self.i)
        if not m:
            return e
        self.i = m.end()
        lo = int(m.group(1))
        hi = lo if m.group(2) is None else (int(m.group(3)) if m.group(3) else None)
        return ("rep", e, lo, hi)


def parse_gbnf(text: str) -> dict[str, Expr]:
    rules: dict[str, Expr] = {}
    for line in text.split("\n"):
        if line.strip():
            name, body = line.split(" ::= ", 1)
            assert name not in rules, f"rule {name} defined twice"
            rules[name] = _Parser(body).alts()
    for name in re.findall(r"ref', '([^']+)'", repr(rules)):
        assert name in rules, f"undefined rule {name}"
    return rules


def _in_class(e: Expr, c: str) -> bool:
    inside = any(lo <= c <= hi for lo, hi in e[2])
    return inside != e[1]


class Grammar:
    def __init__(self, text: str) -> None:
        self.text = text
        self.rules = parse_gbnf(text)
        self.height = dict.fromkeys(self.rules, float("inf"))
        for _ in range(len(self.rules) + 1):  # shortest derivation height per rule
            for name, body in self.rules.items():
                self.height[name] = min(self.height[name], self._height(body) + 1)

    def _height(self, e: Expr) -> float:
        if e[0] == "ref":
            return self.height[e[1]]
        if e[0] == "alt":
            return min(self._height(x) for x in e[1])
        if e[0] == "seq":
            return max((self._height(x) for x in e[1]), default=0)
        return 0 if e[0] != "rep" or e[2] == 0 else self._height(e[1])

    # recognizer: the set of end positions of an expression starting at pos (memo per rule)
    def accepts(self, doc: str) -> bool:
        memo: dict[tuple[str, int], frozenset[int]] = {}

        def ends(e: Expr, pos: int) -> frozenset[int]:
            kind = e[0]
            if kind == "lit":
                return frozenset([pos + len(e[1])]) if doc.startswith(e[1], pos) else frozenset()
            if kind == "cls":
                ok = pos < len(doc) and _in_class(e, doc[pos])
                return frozenset([pos + 1]) if ok else frozenset()
            if kind == "ref":
                key = (e[1], pos)
                if key not in memo:
                    memo[key] = frozenset()
                    memo[key] = ends(self.rules[e[1]], pos)
                return memo[key]
            if kind == "alt":
                return frozenset().union(*(ends(x, pos) for x in e[1]))
            if kind == "seq":
                cur = frozenset([pos])
                for x in e[1]:
                    cur = frozenset().union(*(ends(x, p) for p in cur))
                    if not cur:
                        break
                return cur
            return rep(e, pos)

        def rep(e: Expr, pos: int) -> frozenset[int]:
            _, x, lo, hi = e
            frontier, result, count = frozenset([pos]), set(), 0
            while frontier:
                if count >= lo:
                    new = frontier - result
                    result |= frontier
                    if not new and count > lo:
                        break
                    frontier = new if count > lo else frontier
                if hi is not None and count == hi:
                    break
                frontier = frozenset().union(*(ends(x, p) for p in frontier))
                count += 1
            return frozenset(result)

        return len(doc) in ends(("ref", "root"), 0)

    def generate(self, rng: random.Random, max_depth: int = 40) -> str:
        out: list[str] = []
        pool = [chr(c) for c in range(0x20)] + list(' "\\azZ09{}[],:é中😀\u2028') + ["\x7f"]

        def gen(e: Expr, depth: int) -> None:
            kind = e[0]
            deep = depth > max_depth
            if kind == "lit":
                out.append(e[1])
            elif kind == "cls":
                if e[1]:
                    out.append(rng.choice([c for c in pool if _in_class(e, c)]))
                else:
                    lo, hi = rng.choice(e[2])
                    out.append(chr(rng.randint(ord(lo), ord(hi))))
            elif kind == "ref":
                gen(self.rules[e[1]], depth + 1)
            elif kind == "alt":
                options = e[1]
                if deep:
                    best = min(self._height(x) for x in options)
                    options = [x for x in options if self._height(x) == best]
                gen(rng.choice(options), depth)
            elif kind == "seq":
                for x in e[1]:
                    gen(x, depth)
            else:
                _, x, lo, hi = e
                n = lo if deep else lo + rng.choice([0, 0, 1, 1, 2, 3, 6])
                for _ in range(n if hi is None else min(n, hi)):
                    gen(x, depth + 1)

        gen(("ref", "root"), 0)
        return "".join(out)


# -- llama.cpp compile check (the ``vocab`` fixture: tests/unit/conftest.py) ----------------


def compiles(vocab: Any, grammar: str) -> bool:
    import llama_cpp

    sampler = llama_cpp.llama_sampler_init_grammar(vocab, grammar.encode(), b"root")
    if not sampler:
        return False
    llama_cpp.llama_sampler_free(sampler)
    return True


# -- validation with format checks matching what the grammar promises ---------------------------

FORMATS = jsonschema.FormatChecker(formats=())
_TIME = r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)"


@FORMATS.checks("date", raises=ValueError)
def _is_date(v: object) -> bool:
    if not isinstance(v, str):
        return True
    return bool(re.fullmatch(r"\d{4}-\d\d-\d\d", v)) and bool(dt.date.fromisoformat(v))


@FORMATS.checks("time")
def _is_time(v: object) -> bool:
    return not isinstance(v, str) or re.fullmatch(_TIME, v) is not None


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(v: object) -> bool:
    if not isinstance(v, str):
        return True
    return len(v) > 11 and v[10] == "T" and _is_date(v[:10]) and _is_time(v[11:])


@FORMATS.checks("uuid", raises=ValueError)
def _is_uuid(v: object) -> bool:
    if not isinstance(v, str):
        return True
    return len(v) == 36 and bool(uuid.UUID(v)) and all(v[i] == "-" for i in (8, 13, 18, 23))


def validate(doc: Any, schema: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(schema, format_checker=FORMATS).validate(doc)


def check_generated(schema: dict[str, Any], seed: int, n: int = 8) -> Grammar:
    grammar = Grammar(schema_to_gbnf(schema))
    rng = random.Random(seed)
    for _ in range(n):
        text = grammar.generate(rng)
        assert grammar.accepts(text), text
        validate(json.loads(text), schema)
    return grammar


# -- hypothesis: schemas in the supported subset ----------------------------------------------

NAMES = st.sampled_from(["a", "b", "id", "name", "x y", 'q"t', "é", "n2"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(-1000, 1000, allow_nan=False).map(lambda f: round(f, 3)),
    st.text(max_size=5),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=5,
)


@st.composite
def numeric_schemas(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["integer", "number"]))
    scale = draw(st.sampled_from([10, 1000, 10**6, 10**17]))
    lo, hi = sorted(draw(st.integers(-scale, scale)) for _ in range(2))
    mode = draw(st.sampled_from(["none", "min", "max", "both", "exclusive", "mixed", "fraction"]))
    bounds = {
        "none": {},
        "min": {"minimum": lo},
        "max": {"maximum": hi},
        "both": {"minimum": lo, "maximum": hi},
        "exclusive": {"exclusiveMinimum": lo - 1, "exclusiveMaximum": hi + 1},
        "mixed": {"exclusiveMinimum": lo - 1, "maximum": hi},
        "fraction": {"exclusiveMinimum": lo - 0.5, "maximum": hi + 0.25},  # integers only
    }[mode]
    return {"type": "integer" if mode == "fraction" else kind, **bounds}


@st.composite
def string_schemas(draw: st.DrawFn) -> dict[str, Any]:
    fmt = draw(st.sampled_from([None, None, "date", "date-time", "time", "uuid"]))
    if fmt:
        return {"type": "string", "format": fmt}
    low = draw(st.integers(0, 4))
    high = low + draw(st.integers(0, 5))
    return {"type": "string"} | draw(st.sampled_from([{}, {"minLength": low}, {"maxLength": high}]))


LEAVES = st.one_of(
    numeric_schemas(),
    string_schemas(),
    st.sampled_from([{"type": "boolean"}, {"type": "null"}, {}, {"type": "object"}]),
    st.builds(lambda v: {"enum": v}, st.lists(JSON_VALUES, min_size=1, max_size=4)),
    st.builds(lambda v: {"const": v}, JSON_VALUES),
    st.builds(lambda v: {"type": "string", "enum": v}, st.lists(st.text(max_size=4), min_size=1)),
)


@st.composite
def objects(draw: st.DrawFn, children: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    props = draw(st.dictionaries(NAMES, children, max_size=4))
    schema: dict[str, Any] = {"type": "object", "properties": props}
    schema["required"] = [name for name in props if draw(st.booleans())]
    extra = draw(st.sampled_from([None, False, True]))
    if extra is not None:
        schema["additionalProperties"] = extra
    return schema


@st.composite
def arrays(draw: st.DrawFn, children: st.SearchStrategy[dict[str, Any]]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array"}
    if draw(st.booleans()):
        schema["prefixItems"] = draw(st.lists(children, min_size=1, max_size=3))
        schema["items"] = draw(st.just(False) | children)
    else:
        schema["items"] = draw(children)
    low = draw(st.integers(0, 3))
    if draw(st.booleans()):
        schema["minItems"] = low
    if draw(st.booleans()):
        schema["maxItems"] = low + draw(st.integers(0, 3))
    if schema.get("items") is False:
        schema["minItems"] = min(schema.get("minItems", 0), len(schema["prefixItems"]))
        schema["maxItems"] = max(schema.get("maxItems", 0), schema["minItems"])
    return schema


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str) and schema["type"] != "null" and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [schema, {"type": "null"}], "description": "optional"}


def extend(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        objects(children),
        arrays(children),
        st.builds(lambda xs: {"anyOf": xs}, st.lists(children, min_size=1, max_size=3)),
        children.map(nullable),
        children.map(lambda s: {"$ref": s, "title": "ref"}),
        children.map(lambda s: {"allOf": [s]}),
    )


def hoist(schema: dict[str, Any]) -> dict[str, Any]:
    """Move inline ``{"$ref": {schema}}`` placeholders into ``$defs``."""
    defs: dict[str, Any] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(x) for x in node]
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$ref"), dict):
            name = f"D{len(defs)}"
            defs[name] = None
            defs[name] = walk(node["$ref"])
            return {**node, "$ref": f"#/$defs/{name}"}
        return {k: node[k] if k in ("enum", "const") else walk(node[k]) for k in node}

    root = walk(schema)
    return {**root, "$defs": defs} if defs else root


SCHEMAS = st.recursive(LEAVES, extend, max_leaves=8).map(hoist)


# -- hand-built generator of valid documents ---------------------------------------------------

CHARS = ["a", "Z", "0", " ", '"', "\\", "/", "\n", "\t", "\x01", "\x1f", "é", "中", "😀", "\u2028"]


def _int_bounds(schema: dict[str, Any]) -> tuple[int, int]:
    import math

    get = schema.get
    lows = [math.ceil(get("minimum", -1e30)), math.floor(get("exclusiveMinimum", -1e30)) + 1]
    highs = [math.floor(get("maximum", 1e30)), math.ceil(get("exclusiveMaximum", 1e30)) - 1]
    lo, hi = max(lows), min(highs)
    if lo < -1e29:
        lo = min(hi, 0) - 10**6
    return lo, hi if hi < 1e29 else lo + 2 * 10**6


def sample(schema: Any, rng: random.Random, root: dict[str, Any]) -> Any:
    if schema is True or schema == {} or set(schema) <= {"title", "description"}:
        return rng.choice([None, 1, "x", [1, {"k": True}], {"a": [None]}])
    if "$ref" in schema:
        return sample(root["$defs"][schema["$ref"].split("/")[-1]], rng, root)
    if "allOf" in schema:
        return sample(schema["allOf"][0], rng, root)
    if "anyOf" in schema:
        return sample(rng.choice(schema["anyOf"]), rng, root)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema["type"]
    if isinstance(kind, list):
        kind = rng.choice(kind)
    if kind == "object":
        props = schema.get("properties", {})
        required = schema.get("required", [])
        return {
            k: sample(s, rng, root) for k, s in props.items() if k in required or rng.random() < 0.5
        }
    if kind == "array":
        return sample_array(schema, rng, root)
    if kind == "string":
        return sample_string(schema, rng)
    if kind in ("integer", "number"):
        return sample_number(schema, kind, rng)
    return {"boolean": rng.random() < 0.5, "null": None}[kind]


def sample_number(schema: dict[str, Any], kind: str, rng: random.Random) -> float:
    lo, hi = _int_bounds(schema)
    value = rng.randint(lo, hi)
    candidate = round(value + rng.choice([-1, 1]) * rng.random(), 3)
    fits = jsonschema.Draft202012Validator(schema).is_valid(candidate)
    return candidate if kind == "number" and fits and rng.random() < 0.7 else value


def sample_array(schema: dict[str, Any], rng: random.Random, root: dict[str, Any]) -> list[Any]:
    prefix = schema.get("prefixItems", [])
    low = schema.get("minItems", 0)
    high = schema.get("maxItems", low + 3)
    if schema.get("items", True) is False:
        high = min(high, len(prefix))
    n = rng.randint(low, min(high, low + 3))
    items = schema.get("items", True)
    return [sample(prefix[i] if i < len(prefix) else items, rng, root) for i in range(n)]


def sample_string(schema: dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    day = dt.date(1, 1, 1) + dt.timedelta(days=rng.randint(0, 3_652_058))
    clock = f"{rng.randint(0, 23):02}:{rng.randint(0, 59):02}:{rng.randint(0, 59):02}"
    zone = rng.choice(["Z", "+05:30", "-11:00", ".123Z", ".5+00:00"])
    if fmt == "date":
        return day.isoformat()
    if fmt == "time":
        return clock + zone
    if fmt == "date-time":
        return f"{day.isoformat()}T{clock}{zone}"
    if fmt == "uuid":
        text = str(uuid.UUID(int=rng.getrandbits(128)))
        return text.upper() if rng.random() < 0.3 else text
    low = schema.get("minLength", 0)
    n = rng.randint(low, schema.get("maxLength", low + 6))
    return "".join(rng.choice(CHARS) for _ in range(n))


def render(doc: Any, rng: random.Random) -> str:
    style = rng.randrange(3)
    if style == 0:
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    if style == 1:
        return json.dumps(doc, ensure_ascii=False)
    return json.dumps(doc, ensure_ascii=False, indent=2)


PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(schema=SCHEMAS, seed=st.integers(0, 2**32 - 1))
def test_documents_generated_from_the_grammar_validate(
    vocab: Any, schema: dict[str, Any], seed: int
) -> None:
    grammar = check_generated(schema, seed)
    assert compiles(vocab, grammar.text), grammar.text


@PROPERTY_SETTINGS
@given(schema=SCHEMAS, seed=st.integers(0, 2**32 - 1))
def test_valid_documents_are_accepted(schema: dict[str, Any], seed: int) -> None:
    grammar = Grammar(schema_to_gbnf(schema))
    rng = random.Random(seed)
    for _ in range(5):
        doc = sample(schema, rng, schema)
        validate(doc, schema)
        text = render(doc, rng)
        assert grammar.accepts(text), (text, grammar.text)


STR, INT, OBJ = {"type": "string"}, {"type": "integer"}, {"type": "object"}
NULL = {"type": "null"}


# -- exactness of individual constructs --------------------------------------------------------


def test_json_object_grammar(vocab: Any) -> None:
    assert compiles(vocab, JSON_OBJECT_GBNF)
    grammar = Grammar(JSON_OBJECT_GBNF)
    assert grammar.accepts('{"a": [1, -2.5e3, "x\\n", {"b": null}], "c": true}')
    assert grammar.accepts('{\n  "a": {}\n}')
    for bad in ("[1]", '"s"', '{"a": "x\ny"}', "{" + " " * 2 + "}", '{"a":\n' + " " * 21 + "1}"):
        assert not grammar.accepts(bad), bad


def test_strings_exclude_raw_control_characters() -> None:
    grammar = Grammar(schema_to_gbnf({"type": "string", "maxLength": 3}))
    assert grammar.accepts('"a\\nb"')
    assert grammar.accepts('"\\u00e9\\"\\\\"')
    assert not grammar.accepts('"a\nb"')
    assert not grammar.accepts('"\x00"')
    assert not grammar.accepts('"\\ud800"')  # lone surrogate escape
    assert not grammar.accepts('"abcd"')
    assert grammar.accepts('"中😀\u2028"')  # code points, not bytes


@pytest.mark.parametrize(
    ("bounds", "lo", "hi"),
    [
        ({"minimum": 0, "maximum": 237}, 0, 237),
        ({"minimum": -15, "maximum": 9}, -15, 9),
        ({"minimum": -120, "maximum": -7}, -120, -7),
        ({"exclusiveMinimum": -1.5, "exclusiveMaximum": 100}, -1, 99),
        ({"minimum": 98, "maximum": 1003}, 98, 1003),
        ({"minimum": 5, "maximum": 5}, 5, 5),
    ],
)
def test_integer_bounds_are_exact(vocab: Any, bounds: dict[str, Any], lo: int, hi: int) -> None:
    gbnf = schema_to_gbnf({"type": "integer", **bounds})
    assert compiles(vocab, gbnf)
    grammar = Grammar(gbnf)
    for value in range(lo - 120, hi + 120):
        assert grammar.accepts(str(value)) == (lo <= value <= hi), value
    assert not grammar.accepts(f"{lo}.5")


def test_integer_one_sided_bounds() -> None:
    grammar = Grammar(schema_to_gbnf({"type": "integer", "minimum": 10**12 + 7}))
    assert grammar.accepts(str(10**12 + 7)) and grammar.accepts(str(10**15))
    assert not grammar.accepts(str(10**12 + 6)) and not grammar.accepts("-5")
    grammar = Grammar(schema_to_gbnf({"type": "integer", "exclusiveMaximum": -3}))
    assert grammar.accepts("-4") and grammar.accepts("-999999")
    assert not grammar.accepts("-3") and not grammar.accepts("0")


@pytest.mark.parametrize(
    "bounds",
    [
        {"minimum": 0, "maximum": 10},
        {"exclusiveMinimum": -3, "maximum": 2},
        {"minimum": -5, "exclusiveMaximum": 0},
        {"exclusiveMinimum": 1, "exclusiveMaximum": 2},
        {"minimum": 7},
        {"maximum": -1},
    ],
)
def test_number_bounds_are_exact(bounds: dict[str, Any]) -> None:
    schema = {"type": "number", **bounds}
    grammar = Grammar(schema_to_gbnf(schema))
    for tenths in range(-120, 120):
        for text in (f"{tenths / 10:.1f}", f"{tenths / 10:.3f}", str(tenths // 10)):
            expected = jsonschema.Draft202012Validator(schema).is_valid(json.loads(text))
            assert grammar.accepts(text) == expected, text


def test_dates_follow_the_calendar() -> None:
    grammar = Grammar(schema_to_gbnf({"type": "string", "format": "date"}))
    day = dt.date(1999, 12, 1)
    while day < dt.date(2001, 3, 5):
        assert grammar.accepts(f'"{day.isoformat()}"')
        day += dt.timedelta(days=1)
    for bad in ("1900-02-29", "2100-02-29", "2023-02-29", "2023-04-31", "0000-01-01", "2023-13-01"):
        assert not grammar.accepts(f'"{bad}"'), bad
    for good in ("2000-02-29", "2024-02-29", "0004-02-29", "1600-02-29"):
        assert grammar.accepts(f'"{good}"'), good
    stamp = Grammar(schema_to_gbnf({"type": "string", "format": "date-time"}))
    assert stamp.accepts('"2024-02-29T23:59:59.123+05:30"')
    assert not stamp.accepts('"2024-02-29 12:00:00Z"') and not stamp.accepts(
        '"2024-02-29T24:00:00Z"'
    )


def test_optional_properties_any_subset_in_declared_order() -> None:
    names = ["a", "b", "c", "d"]
    schema = {
        "type": "object",
        "properties": {n: {"type": "integer"} for n in names},
        "required": ["b", "d"],
        "additionalProperties": False,
    }
    grammar = Grammar(schema_to_gbnf(schema))
    for mask in range(16):
        chosen = [n for i, n in enumerate(names) if mask >> i & 1]
        text = json.dumps(dict.fromkeys(chosen, 1))
        assert grammar.accepts(text) == ({"b", "d"} <= set(chosen)), text
        assert (
            not grammar.accepts(json.dumps(dict.fromkeys(reversed(chosen), 1))) or len(chosen) < 2
        )
    assert not grammar.accepts('{"b": 1, "d": 1, "e": 1}')


def test_arrays_bounds_and_tuples() -> None:
    grammar = Grammar(
        schema_to_gbnf({"type": "array", "items": {"type": "null"}, "minItems": 2, "maxItems": 4})
    )
    for n in range(7):
        assert grammar.accepts(json.dumps([None] * n)) == (2 <= n <= 4)
    tuple_schema = {
        "type": "array",
        "prefixItems": [{"type": "integer"}, {"type": "string"}],
        "items": False,
    }
    grammar = Grammar(schema_to_gbnf(tuple_schema))
    assert grammar.accepts('[1, "a"]') and grammar.accepts("[1]") and grammar.accepts("[]")
    assert not grammar.accepts('["a", 1]') and not grammar.accepts('[1, "a", 2]')


def test_recursive_refs(vocab: Any) -> None:
    kids = {"type": "array", "items": {"$ref": "#/$defs/Node"}}
    node = {**OBJ, "properties": {"v": INT, "kids": kids}, "required": ["v", "kids"]}
    tree = {"$defs": {"Node": {**node, "additionalProperties": False}}, "$ref": "#/$defs/Node"}
    grammar = check_generated(tree, 1, n=20)
    assert compiles(vocab, grammar.text)
    assert grammar.accepts('{"v": 1, "kids": [{"v": 2, "kids": []}]}')
    assert not grammar.accepts('{"v": 1, "kids": [{"v": 2}]}')
    linked = {**OBJ, "properties": {"next": {"anyOf": [{"$ref": "#"}, NULL]}}, "required": ["next"]}
    assert compiles(vocab, check_generated(linked, 2).text)
    with pytest.raises(UnsupportedSchemaError, match="left-recursive"):
        schema_to_gbnf(
            {"$defs": {"A": {"anyOf": [{"$ref": "#/$defs/A"}, NULL]}}, "$ref": "#/$defs/A"}
        )


def test_nullable_type_list_keeps_sibling_keywords() -> None:
    grammar = Grammar(schema_to_gbnf({"type": ["integer", "null"], "minimum": 3, "title": "n"}))
    assert grammar.accepts("null") and grammar.accepts("3") and not grammar.accepts("2")
    grammar = Grammar(schema_to_gbnf({"type": ["string", "null"], "format": "uuid"}))
    assert grammar.accepts(f'"{uuid.uuid4()}"') and not grammar.accepts('"x"')


# fmt: off
UNSUPPORTED: list[tuple[str, dict[str, Any]]] = [
    ("not", {"not": STR}),
    ("oneOf", {"oneOf": [INT, STR]}),
    ("patternProperties", {**OBJ, "patternProperties": {"^x": {}}}),
    ("if", {"if": STR, "then": {"minLength": 1}}),
    ("uniqueItems", {"type": "array", "items": INT, "uniqueItems": True}),
    ("properties.age.multipleOf", {**OBJ, "properties": {"age": {**INT, "multipleOf": 5}}}),
    ("dependentRequired", {**OBJ, "dependentRequired": {"a": ["b"]}}),
    ("$ref", {"$ref": "https://example.com/s.json"}),
    ("minimum", {"type": "number", "minimum": 0.5}),
    ("pattern", {**STR, "pattern": "^a$"}),
    ("format", {**STR, "format": "email"}),
    ("maxLength", {**STR, "format": "date", "maxLength": 10}),
    ("minProperties", {**OBJ, "minProperties": 1}),
    ("items.anyOf.0.contentEncoding", {"items": {"anyOf": [{**STR, "contentEncoding": "x"}]}}),
    ("allOf", {"allOf": [INT, {"minimum": 1}]}),
    ("maximum", {**INT, "minimum": 5, "maximum": 4}),
    ("required", {**OBJ, "required": ["a"]}),
    ("$defs.T.contains", {"$defs": {"T": {"contains": INT}}, "$ref": "#/$defs/T"}),
    ("minimum", {**STR, "minimum": 1}),
    ("maxItems", {"type": "array", "maxItems": 1000}),
]
# fmt: on


@pytest.mark.parametrize(("path", "schema"), UNSUPPORTED)
def test_unsupported_keywords_are_rejected(path: str, schema: dict[str, Any]) -> None:
    keyword = path.rsplit(".", 1)[-1]
    with pytest.raises(UnsupportedSchemaError) as err:
        schema_to_gbnf(schema)
    assert (err.value.keyword, err.value.path) == (keyword, path)
    assert f"JSON Schema keyword '{keyword}' at '{path}' is not supported" in str(err.value)
    assert isinstance(err.value, ValueError)
    with pytest.raises(UnsupportedSchemaError) as err:
        schema_to_gbnf({"properties": {"a": False}})
    assert (err.value.keyword, err.value.path) == ("false", "properties.a")


def test_annotations_are_ignored_and_empty_schema_is_any_value() -> None:
    schema = dict.fromkeys(["title", "description", "$comment", "$schema", "$id"], "x") | {
        "examples": [1],
        "default": 1,
        "deprecated": True,
        "readOnly": False,
        "writeOnly": False,
    }
    grammar = Grammar(schema_to_gbnf(schema))
    for text in ("1", '"s"', "[null, {}]", '{"a": true}'):
        assert grammar.accepts(text)


def test_pydantic_strict_schema(vocab: Any) -> None:
    from typing import Literal
    from uuid import UUID

    from openai.lib._pydantic import to_strict_json_schema
    from pydantic import BaseModel, Field

    class Address(BaseModel):
        street: str
        zip_code: str | None = None

    class Person(BaseModel):
        id: UUID
        name: str = Field(max_length=20)
        born: dt.datetime
        kind: Literal["admin", "user"]
        scores: list[int] = Field(min_length=1, max_length=4)
        home: Address
        work: Address | None = None
        age: int | None = Field(default=None, ge=0, le=150)

    schema = to_strict_json_schema(Person)
    grammar = check_generated(schema, 3, n=20)
    assert compiles(vocab, grammar.text)
    born = dt.datetime(2024, 2, 29, 12, 0, tzinfo=dt.UTC)
    person = Person(
        id=uuid.uuid4(), name="A", born=born, kind="user", scores=[1], home={"street": ""}
    )
    doc = person.model_dump(mode="json")
    text = json.dumps(doc, ensure_ascii=False)
    validate(json.loads(text), schema)
    assert grammar.accepts(text.replace("+00:00", "Z")), text
    Person.model_validate_json(grammar.generate(random.Random(5)))
