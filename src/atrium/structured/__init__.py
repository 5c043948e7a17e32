"""Structured outputs: JSON Schema -> llama.cpp GBNF grammars for constrained decoding."""

from atrium.structured.json_grammar import JSON_OBJECT_GBNF
from atrium.structured.schema_gbnf import UnsupportedSchemaError, schema_to_gbnf

__all__ = ["JSON_OBJECT_GBNF", "UnsupportedSchemaError", "schema_to_gbnf"]
