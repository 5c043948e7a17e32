"""JSON Schema -> GBNF (llama.cpp grammar, root rule ``root``).

Consume-or-raise: every keyword of every (sub)schema is either handled or rejected with
:class:`UnsupportedSchemaError` (keyword + path); nothing is silently ignored, so the grammar is
never looser than the schema. Structure and repetition handling follow llama.cpp's
``json_schema_to_grammar`` (MIT, (c) The ggml authors; Python port (c) 2023 Andrei Betlen), but the
code is our own.

Supported (exact unless marked *subset*, meaning every document the grammar admits is valid, but
some valid documents are not admitted):

* ``type``: object, array, string, integer, number, boolean, null, and lists of them (sibling
  keywords apply to the types they belong to, e.g. ``{"type": ["integer", "null"], "minimum": 0}``);
  without ``type``, the type is inferred from the keywords present (*subset*), or any JSON value.
* object: ``properties`` (declared order; optional properties may be omitted, any subset),
  ``required``, ``additionalProperties`` (``false``; ``true``/absent/a schema next to ``properties``
  -> only the declared properties, *subset*; without ``properties`` -> any object, or a map whose
  values follow the schema).
* array: ``items`` (schema or ``false``), ``prefixItems``, ``minItems``, ``maxItems`` (at most
  ``MAX_ITEMS`` expanded repetitions, above that the keyword is rejected).
* string: ``minLength``/``maxLength`` (code points; ``maxLength`` above ``MAX_STRING_LENGTH`` is
  clamped, *subset*), ``format`` date / date-time / time (RFC 3339, real calendar days, seconds
  00-59, upper-case ``T``/``Z``: *subset*) and uuid.
* integer: ``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum`` exactly (digit-range
  rules); number: the same bounds when their values are integers (exact within the number rule),
  other bounds are rejected. Numbers: at most 16 integer digits, no exponent when bounded
  (*subset*).
* ``enum``, ``const`` (any JSON values, optionally filtered by a sibling ``type``), ``anyOf``,
  ``allOf`` with one element, local ``$ref`` (``#/$defs/...``, ``#/definitions/...``, any ``#/...``
  pointer; recursion allowed unless left-recursive), ``true`` and ``{}`` (any value).
* Annotations ignored: ``ANNOTATIONS``.

Everything else is rejected: ``not``, ``oneOf``, ``if``/``then``/``else``, ``patternProperties``,
``propertyNames``, ``minProperties``/``maxProperties``, ``dependent*``, ``uniqueItems``,
``contains``, ``unevaluated*``, ``multipleOf``, ``pattern``, other formats, remote ``$ref``,
``false`` as a schema (except ``additionalProperties``/``items``), length keywords next to
``format``.

Strings in the output are canonical as ``json.dumps(..., ensure_ascii=False)`` writes them for keys,
``enum`` and ``const`` (*subset*: ``"\\u0061"`` for ``"a"`` is not admitted there).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, NoReturn

from atrium.structured.json_grammar import (
    INT_DIGITS,
    PRIMITIVES,
    STRING_FORMATS,
    closure,
    grammar_text,
)

ANNOTATIONS: Final = frozenset(
    {
        "title",
        "description",
        "examples",
        "default",
        "$comment",
        "$schema",
        "$id",
        "deprecated",
        "readOnly",
        "writeOnly",
    }
)
_STRUCTURAL: Final = frozenset({"$defs", "definitions"})
_NO_REWRITE: Final = frozenset({"const", "enum", "default", "examples"})

MAX_ITEMS: Final = 100
"""Largest ``minItems``/``maxItems``/``prefixItems`` count expanded into the grammar."""
MAX_STRING_LENGTH: Final = 1000
"""Largest ``minLength``; a larger ``maxLength`` is clamped to it."""
_MAX_BOUND: Final = 10**30

_FAMILIES: Final[dict[str, frozenset[str]]] = {
    "object": frozenset({"properties", "required", "additionalProperties"}),
    "array": frozenset({"items", "prefixItems", "minItems", "maxItems"}),
    "string": frozenset({"minLength", "maxLength", "format", "pattern"}),
    "number": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "integer": frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}),
    "boolean": frozenset(),
    "null": frozenset(),
}
_FRAC_ANY: Final = f'( "." [0-9]{{1,{INT_DIGITS}}} )?'
_FRAC_ZERO: Final = f'( "." "0"{{1,{INT_DIGITS}}} )?'
_FRAC_NONZERO: Final = f'"." "0"{{0,{INT_DIGITS - 1}}} [1-9] [0-9]{{0,{INT_DIGITS - 1}}}'


class UnsupportedSchemaError(ValueError):
    """A JSON Schema keyword that constrained decoding cannot enforce."""

    def __init__(self, keyword: str, path: str, detail: str = "") -> None:
        self.keyword = keyword
        self.path = path
        message = (
            f"JSON Schema keyword {keyword!r} at {path!r} is not supported by constrained decoding"
        )
        super().__init__(f"{message} ({detail})" if detail else message)


def schema_to_gbnf(schema: Mapping[str, Any]) -> str:
    """A GBNF grammar (root rule ``root``) admitting JSON documents valid against ``schema``."""
    if not isinstance(schema, Mapping):
        raise UnsupportedSchemaError("schema", "", "the schema must be a JSON object")
    return _Converter(schema).convert()


def schemas_to_gbnf(
    schemas: Mapping[str, Mapping[str, Any]], root: Callable[[Mapping[str, str]], str]
) -> str:
    """One grammar for JSON documents embedded in other text: each schema of ``schemas``
    becomes a rule admitting its documents (ending with the optional whitespace every value
    rule ends with), and ``root`` gets ``{key: rule name}`` and returns the body of the
    ``root`` rule, which may use those rules. Keys are letters, digits and ``-``; local
    ``$ref`` pointers of each schema are resolved within that schema."""
    document = {key: relocate_refs(schema, f"#/$defs/{key}") for key, schema in schemas.items()}
    converter = _Converter({"$defs": document})
    names = {key: converter.visit({"$ref": f"#/$defs/{key}"}, "") for key in schemas}
    return converter.convert_with(root(names))


def relocate_refs(schema: Any, prefix: str) -> Any:
    """``schema`` with its local ``$ref`` pointers moved under ``prefix`` (``#/$defs/f0``), so
    it can be embedded in a bigger schema at that pointer."""
    if isinstance(schema, Mapping):
        moved: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#"):
                moved[key] = prefix + value[1:]
            elif key in _NO_REWRITE:
                moved[key] = value
            elif key == "properties" and isinstance(value, Mapping):
                moved[key] = {name: relocate_refs(sub, prefix) for name, sub in value.items()}
            else:
                moved[key] = relocate_refs(value, prefix)
        return moved
    if isinstance(schema, list):
        return [relocate_refs(item, prefix) for item in schema]
    return schema


def _join(*parts: str) -> str:
    return ".".join(part for part in parts if part)


def _literal(text: str) -> str:
    """A GBNF string literal matching ``text`` exactly."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char == "\n":
            out.append("\\n")
        elif char == "\r":
            out.append("\\r")
        elif char == "\t":
            out.append("\\t")
        elif ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F:
            out.append(f"\\x{ord(char):02X}")
        elif char in "\u2028\u2029":
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _seq(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _alts(parts: list[str]) -> str:
    unique = list(dict.fromkeys(parts))
    return unique[0] if len(unique) == 1 else "( " + " | ".join(unique) + " )"


def _is_json_type(value: Any, kind: str) -> bool:
    if kind == "null":
        return value is None
    if kind == "boolean":
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind == "integer":
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float)
    expected = {"string": str, "array": list, "object": dict}[kind]
    return isinstance(value, expected)


# -- integer ranges ---------------------------------------------------------------------------


def _digits_range(lo: str, hi: str) -> str:
    """Digit strings of equal length between ``lo`` and ``hi`` (inclusive)."""
    if lo == hi:
        return _literal(lo) if lo else ""
    rest = len(lo) - 1
    tail = f" [0-9]{{{rest}}}" if rest else ""
    if lo[0] == hi[0]:
        return _seq(_literal(lo[0]), _digits_range(lo[1:], hi[1:]))
    if lo[1:] == "0" * rest and hi[1:] == "9" * rest:
        return f"[{lo[0]}-{hi[0]}]{tail}"
    parts = [_seq(_literal(lo[0]), _digits_range(lo[1:], "9" * rest))]
    if int(lo[0]) + 1 <= int(hi[0]) - 1:
        parts.append(f"[{int(lo[0]) + 1}-{int(hi[0]) - 1}]{tail}")
    parts.append(_seq(_literal(hi[0]), _digits_range("0" * rest, hi[1:])))
    return _alts(parts)


def _uint_range(lo: int, hi: int) -> str:
    """Non-negative integers in ``[lo, hi]`` written without leading zeros."""
    parts = []
    for length in range(len(str(lo)), len(str(hi)) + 1):
        first = max(lo, 10 ** (length - 1) if length > 1 else 0)
        last = min(hi, 10**length - 1)
        if first <= last:
            parts.append(_digits_range(str(first), str(last)))
    return _alts(parts)


def _int_range(lo: int, hi: int) -> str:
    if lo >= 0:
        return _uint_range(lo, hi)
    if hi < 0:
        return _seq('"-"', _uint_range(-hi, -lo))
    return _alts([_seq('"-"', _uint_range(1, -lo)), _uint_range(0, hi)])


def _magnitude(lo: int, lo_incl: bool, hi: int, hi_incl: bool) -> list[str]:
    """Decimal numbers without sign/exponent in the interval ``lo..hi`` (0 <= lo <= hi)."""
    if lo == hi:
        return [_seq(_literal(str(lo)), _FRAC_ZERO)] if lo_incl and hi_incl else []
    parts = [_seq(_literal(str(lo)), _FRAC_ANY if lo_incl else _FRAC_NONZERO)]
    if lo + 1 <= hi - 1:
        parts.append(_seq(_uint_range(lo + 1, hi - 1), _FRAC_ANY))
    if hi_incl:
        parts.append(_seq(_literal(str(hi)), _FRAC_ZERO))
    return parts


def _real_range(lo: tuple[int, bool], hi: tuple[int, bool]) -> list[str]:
    """Decimal numbers between integer bounds ``(value, inclusive)``."""
    (low, low_incl), (high, high_incl) = lo, hi
    if low >= 0:
        return _magnitude(low, low_incl, high, high_incl)
    negative = _magnitude(max(-high, 0), high_incl if high <= 0 else False, -low, low_incl)
    parts = [_seq('"-"', _alts(negative))] if negative else []
    if high >= 0:
        parts.extend(_magnitude(0, True, high, high_incl))
    return parts


class _Node:
    """One (sub)schema being converted: hands out keywords and remembers the unused ones."""

    def __init__(self, schema: Mapping[str, Any], path: str) -> None:
        self.schema = schema
        self.path = path
        self.unused = [k for k in schema if k not in ANNOTATIONS and k not in _STRUCTURAL]

    def has(self, key: str) -> bool:
        return key in self.schema

    def take(self, key: str, default: Any = None) -> Any:
        if key in self.unused:
            self.unused.remove(key)
        return self.schema.get(key, default)

    def at(self, *parts: str) -> str:
        return _join(self.path, *parts)

    def fail(self, key: str, detail: str = "") -> NoReturn:
        raise UnsupportedSchemaError(key, self.at(key), detail)

    def finish(self) -> None:
        if self.unused:
            self.fail(self.unused[0])

    def count(self, key: str, limit: int | None = None) -> int | None:
        """A non-negative integer keyword (``None`` when absent), at most ``limit``."""
        if not self.has(key):
            return None
        value = self.take(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            self.fail(key, "expected a non-negative integer")
        if limit is not None and value > limit:
            self.fail(key, f"at most {limit} is supported")
        return value

    def bound(self, key: str) -> float | int | None:
        if not self.has(key):
            return None
        value = self.take(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, "expected a number")
        if not math.isfinite(value) or abs(value) > _MAX_BOUND:
            self.fail(key, "bound out of range")
        return value


class _Converter:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.rules: dict[str, str] = {"root": ""}
        self.bodies: dict[str, str] = {}
        self.primitives: list[str] = []
        self.refs: dict[str, str] = {}
        self.head: set[str] = set()  # refs reachable without consuming input (left recursion)

    def convert(self) -> str:
        return self.convert_with(self.visit(self.root, ""))

    def convert_with(self, root: str) -> str:
        """The grammar with ``root`` as the body of the root rule."""
        self.rules["root"] = root
        for name in closure(self.primitives):
            self.rules[name] = PRIMITIVES[name]
        return grammar_text(self.rules)

    # -- rules ------------------------------------------------------------------------------

    def prim(self, name: str) -> str:
        self.primitives.append(name)
        return name

    def rule(self, hint: str, body: str) -> str:
        if body in self.bodies:
            return self.bodies[body]
        name = self.reserve(hint)
        self.rules[name] = body
        self.bodies[body] = name
        return name

    def reserve(self, hint: str) -> str:
        base = re.sub(r"[^a-zA-Z0-9-]+", "-", hint).strip("-") or "r"
        base = f"r-{base}" if base[0].isdigit() else base
        name, n = base, 1
        while name in self.rules or name in PRIMITIVES:
            n += 1
            name = f"{base}-{n}"
        self.rules[name] = ""
        return name

    def consuming(self) -> set[str]:
        """Enter a construct that consumes input first: no left recursion below it."""
        saved, self.head = self.head, set()
        return saved

    # -- dispatch ---------------------------------------------------------------------------

    def visit(self, schema: Any, path: str) -> str:
        if schema is True:
            return self.prim("value")
        if not isinstance(schema, Mapping):
            keyword = "false" if schema is False else "schema"
            raise UnsupportedSchemaError(keyword, path, "expected a schema object")
        node = _Node(schema, path)
        if node.has("$ref"):
            return self.ref(node)
        if node.has("allOf"):
            return self.all_of(node)
        if node.has("anyOf"):
            return self.any_of(node)
        if node.has("enum") or node.has("const"):
            return self.enum(node)
        return self.typed(node)

    def ref(self, node: _Node) -> str:
        ref = node.take("$ref")
        node.finish()
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            node.fail("$ref", "only local references (#/$defs/...) are supported")
        if ref in self.head:
            node.fail("$ref", "left-recursive reference")
        if ref in self.refs:
            return self.refs[ref]
        target: Any = self.root
        segments = [
            s.replace("~1", "/").replace("~0", "~") for s in ref[2:].split("/") if ref != "#"
        ]
        for segment in segments:
            if isinstance(target, Mapping) and segment in target:
                target = target[segment]
            elif isinstance(target, list) and segment.isdigit() and int(segment) < len(target):
                target = target[int(segment)]
            else:
                node.fail("$ref", f"cannot resolve {ref!r}")
        name = "root" if ref == "#" else self.reserve(segments[-1])
        self.refs[ref] = name
        self.head.add(ref)
        body = self.visit(target, _join(*segments))
        self.head.discard(ref)
        if name != "root":
            self.rules[name] = body
        return name

    def all_of(self, node: _Node) -> str:
        parts = node.take("allOf")
        node.finish()
        if not isinstance(parts, list) or len(parts) != 1:
            node.fail("allOf", "only a single-element allOf is supported")
        return self.visit(parts[0], node.at("allOf", "0"))

    def any_of(self, node: _Node) -> str:
        parts = node.take("anyOf")
        node.finish()
        if not isinstance(parts, list) or not parts:
            node.fail("anyOf", "expected a non-empty list")
        return _alts([self.visit(part, node.at("anyOf", str(i))) for i, part in enumerate(parts)])

    def enum(self, node: _Node) -> str:
        if node.has("enum") and node.has("const"):
            node.fail("enum", "enum together with const")
        key = "const" if node.has("const") else "enum"
        values = [node.take("const")] if key == "const" else node.take("enum")
        if not isinstance(values, list):
            node.fail("enum", "expected a list")
        types = node.take("type")
        node.finish()
        if types is not None:
            kinds = [types] if isinstance(types, str) else types
            if not isinstance(kinds, list) or any(k not in _FAMILIES for k in kinds):
                node.fail("type", f"unknown type {types!r}")
            values = [v for v in values if any(_is_json_type(v, k) for k in kinds)]
        if not values:
            node.fail(key, "no value is allowed")
        saved = self.consuming()
        try:
            return _alts([self.constant(v, node.at(key)) for v in values])
        finally:
            self.head = saved

    def constant(self, value: Any, path: str) -> str:
        ws = self.prim("ws")
        if isinstance(value, dict):
            members = [
                _seq(
                    _literal(json.dumps(k, ensure_ascii=False)),
                    ws,
                    '":"',
                    ws,
                    self.constant(v, path),
                )
                for k, v in value.items()
            ]
            return _seq('"{"', ws, ' "," ws '.join(members), '"}"', ws)
        if isinstance(value, list):
            items = [self.constant(v, path) for v in value]
            return _seq('"["', ws, ' "," ws '.join(items), '"]"', ws)
        if isinstance(value, float) and not math.isfinite(value):
            raise UnsupportedSchemaError(path.rsplit(".", 1)[-1], path, "non-finite number")
        if value is not None and not isinstance(value, str | int | float):
            raise UnsupportedSchemaError(path.rsplit(".", 1)[-1], path, "not a JSON value")
        return _seq(_literal(json.dumps(value, ensure_ascii=False)), ws)

    def typed(self, node: _Node) -> str:
        types = node.take("type")
        if types is None:
            kinds = [
                k
                for k in ("object", "array", "string", "number")
                if any(key in _FAMILIES[k] for key in node.unused)
            ]
            if not kinds:
                node.finish()
                return self.prim("value")
        else:
            kinds = [types] if isinstance(types, str) else types
            if not isinstance(kinds, list) or not kinds or any(k not in _FAMILIES for k in kinds):
                node.fail("type", f"unknown type {types!r}")
        kinds = list(dict.fromkeys(kinds))
        if "number" in kinds and "integer" in kinds:
            kinds.remove("integer")
        if len(kinds) == 1:
            return self.single(node, kinds[0])
        subs = []
        for kind in kinds:
            subs.append(
                {"type": kind, **{k: node.schema[k] for k in _FAMILIES[kind] if node.has(k)}}
            )
            for key in _FAMILIES[kind]:
                node.take(key)
        node.finish()
        return _alts([self.visit(sub, node.path) for sub in subs])

    def single(self, node: _Node, kind: str) -> str:
        if kind == "object":
            return self.object(node)
        if kind == "array":
            return self.array(node)
        if kind == "string":
            return self.string(node)
        if kind in ("integer", "number"):
            return self.numeric(node, kind)
        node.finish()
        return self.prim(kind)

    # -- objects ----------------------------------------------------------------------------

    def object(self, node: _Node) -> str:
        props = node.take("properties", {})
        required = node.take("required", [])
        additional = node.take("additionalProperties", True)
        node.finish()
        if not isinstance(props, Mapping):
            node.fail("properties", "expected an object")
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            node.fail("required", "expected a list of property names")
        missing = [name for name in required if name not in props]
        if missing:
            node.fail("required", f"required properties without a schema: {missing}")
        ws = self.prim("ws")
        saved = self.consuming()
        try:
            if not props:
                return self.open_object(node, additional)
            members = [
                (
                    _seq(
                        _literal(json.dumps(name, ensure_ascii=False)),
                        ws,
                        '":"',
                        ws,
                        self.visit(sub, node.at("properties", name)),
                    ),
                    name in required,
                )
                for name, sub in props.items()
            ]
        finally:
            self.head = saved
        hint = node.path.rsplit(".", 1)[-1] or "object"
        return self.rule(hint, _seq('"{"', ws, self.members(members, hint), '"}"', ws))

    def open_object(self, node: _Node, additional: Any) -> str:
        """An object without ``properties``: empty, any, or a map of ``additionalProperties``."""
        ws = self.prim("ws")
        if additional is False:
            return _seq('"{"', ws, '"}"', ws)
        if additional is True:
            return self.prim("object")
        value = self.visit(additional, node.at("additionalProperties"))
        kv = _seq(self.prim("string"), '":"', ws, value)
        hint = node.path.rsplit(".", 1)[-1] or "map"
        return self.rule(hint, _seq('"{"', ws, f'( {kv} ( "," ws {kv} )* )?', '"}"', ws))

    def members(self, members: list[tuple[str, bool]], hint: str) -> str:
        """Members in declared order; optional ones may be left out, commas stay correct."""
        after = ""  # the rest, once at least one member has been written
        first = ""  # the rest, when nothing has been written yet ("" = may be empty)
        for index in range(len(members) - 1, -1, -1):
            expr, required = members[index]
            if required:
                first = _seq(expr, after)
            elif first:
                first = _alts([_seq(expr, after), self.rule(f"{hint}-from-{index + 1}", first)])
            else:
                first = f"( {_seq(expr, after)} )?"
            if required:
                after = _seq('","', "ws", expr, after)
            else:
                after = _seq(f'( "," ws {expr} )?', after)
            if index and after:
                after = self.rule(f"{hint}-after-{index}", after)
        return first

    # -- arrays -----------------------------------------------------------------------------

    def array(self, node: _Node) -> str:
        prefix = node.take("prefixItems", [])
        items = node.take("items", True)
        low = node.count("minItems", MAX_ITEMS) or 0
        high = node.count("maxItems")
        node.finish()
        if not isinstance(prefix, list) or len(prefix) > MAX_ITEMS:
            node.fail("prefixItems", f"expected a list of at most {MAX_ITEMS} schemas")
        if high is not None and high < low:
            node.fail("maxItems", "maxItems < minItems")
        if items is False:
            high = len(prefix) if high is None else min(high, len(prefix))
            if high < low:
                node.fail("minItems", "more items required than prefixItems allows")
        if high is not None and high - min(high, len(prefix)) > MAX_ITEMS:
            node.fail("maxItems", f"at most {MAX_ITEMS} items can be enforced")
        saved = self.consuming()
        try:
            first = [self.visit(s, node.at("prefixItems", str(i))) for i, s in enumerate(prefix)]
            item = self.visit(items, node.at("items")) if items is not False else ""
        finally:
            self.head = saved
        ws = self.prim("ws")
        first = first if high is None else first[:high]
        body = self.elements(first, item, low, high)
        hint = node.path.rsplit(".", 1)[-1] or "array"
        return self.rule(hint, _seq('"["', ws, body, '"]"', ws))

    def elements(self, prefix: list[str], item: str, low: int, high: int | None) -> str:
        """Comma-separated elements: ``prefix`` first, then ``item``; ``low..high`` of them."""
        k = len(prefix)
        tail = ""
        if item:
            rmin = max(0, low - k)
            rmax = None if high is None else high - k
            if rmax is None or rmax > 0:
                count = f"{{{rmin},}}" if rmax is None else f"{{{rmin},{rmax}}}"
                tail = f'( "," ws {item} ){count}'
        if not k:
            if not item or high == 0:
                return ""
            more = f"{{{max(0, low - 1)},{'' if high is None else high - 1}}}"
            inner = _seq(item, f'( "," ws {item} ){more}' if more != "{0,0}" else "")
            return inner if low else f"( {inner} )?"
        rest = tail
        for index in range(k - 1, -1, -1):
            sep = '"," ws' if index else ""
            optional = index + 1 >= low and index + 1 < k and rest
            rest = _seq(sep, prefix[index], f"( {rest} )?" if optional else rest)
        return rest if low else f"( {rest} )?"

    # -- strings and numbers ----------------------------------------------------------------

    def string(self, node: _Node) -> str:
        if node.has("pattern"):
            node.fail("pattern", "regular expressions are not supported")
        fmt = node.take("format")
        if fmt is not None:
            node.finish()
            if fmt not in STRING_FORMATS:
                node.fail("format", f"format {fmt!r} (supported: {', '.join(STRING_FORMATS)})")
            return self.rule(
                f"{fmt}-string", _seq('"\\""', self.prim(fmt), '"\\""', self.prim("ws"))
            )
        low = node.count("minLength", MAX_STRING_LENGTH) or 0
        high = node.count("maxLength")
        node.finish()
        if high is not None and high < low:
            node.fail("maxLength", "maxLength < minLength")
        if high is not None:
            high = min(high, MAX_STRING_LENGTH)
        if low == 0 and high is None:
            return self.prim("string")
        count = f"{{{low},}}" if high is None else f"{{{low},{high}}}"
        body = _seq('"\\""', self.prim("char") + count, '"\\""', self.prim("ws"))
        return self.rule(f"string-{low}-{high if high is not None else 'inf'}", body)

    def numeric(self, node: _Node, kind: str) -> str:
        bounds: dict[str, float | int] = {}
        for key in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
            value = node.bound(key)
            if value is not None:
                bounds[key] = value
        node.finish()
        if not bounds:
            return self.prim(kind)
        if kind == "number":
            return self.number_range(node, bounds)
        lows = [
            math.ceil(v) if k == "minimum" else math.floor(v) + 1
            for k, v in bounds.items()
            if "inimum" in k
        ]
        highs = [
            math.floor(v) if k == "maximum" else math.ceil(v) - 1
            for k, v in bounds.items()
            if "aximum" in k
        ]
        digits = max([INT_DIGITS] + [len(str(abs(v))) for v in lows + highs])
        low, high = max(lows, default=1 - 10**digits), min(highs, default=10**digits - 1)
        if low > high:
            self.empty(node)
        return self.rule("integer-range", _seq(_int_range(low, high), self.prim("ws")))

    def number_range(self, node: _Node, bounds: dict[str, float | int]) -> str:
        for key, value in bounds.items():
            if not float(value).is_integer():
                node.fail(key, "bounds of a number must be integers")
        ints = {key: int(value) for key, value in bounds.items()}
        cap = 10 ** max([INT_DIGITS] + [len(str(abs(v))) for v in ints.values()])
        # the tighter bound wins; at equal values the exclusive one
        lows = [(v, k == "minimum") for k, v in ints.items() if "inimum" in k]
        highs = [(v, k == "maximum") for k, v in ints.items() if "aximum" in k]
        lo = max(lows, key=lambda b: (b[0], not b[1]), default=(-cap, False))
        hi = min(highs, key=lambda b: (b[0], b[1]), default=(cap, False))
        parts = _real_range(lo, hi) if lo[0] <= hi[0] else []
        if not parts:
            self.empty(node)
        return self.rule("number-range", _seq(_alts(parts), self.prim("ws")))

    @staticmethod
    def empty(node: _Node) -> NoReturn:
        keys = [
            k for k in ("maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum") if node.has(k)
        ]
        node.fail(keys[0], "no number satisfies the bounds")
