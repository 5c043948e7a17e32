"""Validate response bodies against the vendored Azure OpenAI inference specs.

The specs live in ``tests/fixtures/azure/`` (see ``SOURCES.md`` there) and are loaded once per
process. Only the vendored copies are read: CI runs from a clean clone.

Two details of how the specs are read:

* Both documents mark optional nulls with OpenAPI 3.0's ``nullable: true`` (the 2025-04-01-preview
  one too, although it declares OpenAPI 3.1, where that keyword means nothing). JSON Schema has no
  such keyword, so it is rewritten before validation: ``null`` is added to the schema's ``type``
  (and ``enum``), or the schema is wrapped in ``anyOf: [schema, {type: null}]`` when it is a
  ``$ref`` or a combinator.
* The 3.0 document is validated with Draft 4 rules (the dialect OpenAPI 3.0 extends: ``$ref``
  siblings are ignored), the 3.1 document with Draft 2020-12 rules.

The specs declare no ``additionalProperties: false`` on these objects and ``errorResponse`` has no
required members, so extra fields always pass and a missing ``error`` object is not caught: assert
the members a client depends on separately.

Where the live service and the spec disagree, ``live_form=True`` accepts the live form too (see
``LIVE_FORM_NULLS``): the live service sends ``"type": null`` (and ``"code": null``, ``"param":
null``) in ``error`` objects, where the spec types them as plain strings. The live
``innererror``/``content_filter_result`` spellings need nothing: unknown members always pass.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from jsonschema import Draft4Validator, Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4, DRAFT202012

FIXTURES = Path(__file__).parent / "fixtures" / "azure"
SPEC_FILES = {
    "2024-10-21": "azure-openai-inference-2024-10-21.json",
    "2025-04-01-preview": "azure-openai-inference-2025-04-01-preview.yaml",
}
SPEC_VERSIONS = tuple(SPEC_FILES)
_COMBINATORS = ("$ref", "allOf", "anyOf", "oneOf", "not")
_MAX_MESSAGE = 300
# Members the spec types as "string" that the live service sends as null (azure-openai.md 2.3).
LIVE_FORM_NULLS = {
    "errorBase": ("code",),
    "error": ("param", "type"),
    "dalleError": ("param", "type"),
}


def _load_document(version: str) -> dict[str, Any]:
    if version not in SPEC_FILES:
        raise ValueError(f"unknown Azure spec version {version!r}; known: {', '.join(SPEC_FILES)}")
    path = FIXTURES / SPEC_FILES[version]
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        document = json.loads(text)
    else:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        document = yaml.load(text, Loader=loader)
    if not isinstance(document, dict):
        raise TypeError(f"{path} is not a JSON object")
    return document


def _rewrite_nullable(node: Any) -> Any:
    """Turn OpenAPI's ``nullable: true`` into plain JSON Schema, recursively."""
    if isinstance(node, list):
        return [_rewrite_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _rewrite_nullable(value) for key, value in node.items()}
    # A property *named* "nullable" has a schema (a dict) as its value, never a bool.
    nullable = out.get("nullable")
    if not isinstance(nullable, bool):
        return out
    del out["nullable"]
    if not nullable:
        return out
    if any(key in out for key in _COMBINATORS) or "type" not in out:
        return {"anyOf": [out, {"type": "null"}]}
    types = out["type"] if isinstance(out["type"], list) else [out["type"]]
    if "null" not in types:
        out["type"] = [*types, "null"]
    if "enum" in out and None not in out["enum"]:
        out["enum"] = [*out["enum"], None]
    return out


def _allow_live_nulls(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for name, members in LIVE_FORM_NULLS.items():
        properties = schemas[name]["properties"]
        for member in members:
            properties[member] = _rewrite_nullable({**properties[member], "nullable": True})


class _Spec:
    def __init__(self, version: str, live_form: bool) -> None:
        self.version = version
        self.document: dict[str, Any] = _rewrite_nullable(_load_document(version))
        if live_form:
            _allow_live_nulls(self.document)
        self.uri = f"urn:atrium:azure-openai-inference:{version}{':live' if live_form else ''}"
        openapi = str(self.document.get("openapi", ""))
        if openapi.startswith("3.0"):
            self.validator_class: type[Validator] = Draft4Validator
            resource = DRAFT4.create_resource(self.document)
        elif openapi.startswith("3.1"):
            self.validator_class = Draft202012Validator
            resource = DRAFT202012.create_resource(self.document)
        else:
            raise ValueError(f"{SPEC_FILES[version]}: unsupported openapi {openapi!r}")
        self.registry: Registry[Any] = Registry().with_resource(self.uri, resource)

    def validator(self, pointer: list[str]) -> Validator:
        fragment = "/" + "/".join(
            quote(part.replace("~", "~0").replace("/", "~1"), safe="") for part in pointer
        )
        return self.validator_class({"$ref": f"{self.uri}#{fragment}"}, registry=self.registry)


@cache
def _spec(version: str, live_form: bool) -> _Spec:
    return _Spec(version, live_form)


def azure_spec_document(version: str) -> dict[str, Any]:
    """The parsed spec (after the ``nullable`` rewrite), for tests that inspect it."""
    return _spec(version, False).document


def _response_key(responses: dict[str, Any], status: int) -> str | None:
    for key in (str(status), f"{str(status)[0]}XX", f"{str(status)[0]}xx", "default"):
        if key in responses:
            return key
    return None


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _describe(error: ValidationError, indent: str = "  ") -> Iterator[str]:
    if not error.context:
        yield f"{indent}at {error.json_path}: {_short(error.message)}"
        return
    yield f"{indent}at {error.json_path}: matches none of the {error.validator} alternatives"
    # oneOf/anyOf: say why each alternative failed, naming it by its $ref where it has one.
    branches = error.validator_value if isinstance(error.validator_value, list) else []
    by_branch: dict[Any, list[ValidationError]] = {}
    for sub in error.context:
        by_branch.setdefault(sub.schema_path[0] if sub.schema_path else "?", []).append(sub)
    for index, subs in sorted(by_branch.items(), key=lambda item: str(item[0])):
        branch = branches[index] if isinstance(index, int) and index < len(branches) else {}
        name = branch.get("$ref", "").rsplit("/", 1)[-1] if isinstance(branch, dict) else ""
        yield f"{indent}  alternative {index}{f' ({name})' if name else ''}:"
        for sub in sorted(subs, key=lambda e: (e.json_path, e.message)):
            yield from _describe(sub, indent + "    ")


def _check(spec: _Spec, pointer: list[str], body: Any, what: str) -> None:
    errors: list[ValidationError] = []
    seen: set[tuple[str, str]] = set()
    for error in sorted(
        spec.validator(pointer).iter_errors(body), key=lambda e: (e.json_path, e.message)
    ):
        # The same check reached twice (a type both on a schema and on its allOf base) once.
        if error.context or (error.json_path, error.message) not in seen:
            seen.add((error.json_path, error.message))
            errors.append(error)
    if errors:
        lines = [f"{what} violates Azure OpenAI {spec.version} ({len(errors)} error(s)):"]
        for error in errors:
            lines.extend(_describe(error))
        raise AssertionError("\n".join(lines))


def validate_azure_response(
    version: str,
    path_template: str,
    method: str,
    status: int,
    body: Any,
    *,
    content_type: str = "application/json",
    live_form: bool = False,
) -> None:
    """Check ``body`` against the spec's schema for that operation's response to ``status``.

    ``status`` is looked up as written, then as a range (``4XX``), then as ``default``; the
    chat/completions and completions error responses are only declared as ``default``
    (``errorResponse``). ``live_form=True`` also accepts the live service's known deviations
    (``LIVE_FORM_NULLS``). Raises ``AssertionError`` listing every violation.
    """
    spec = _spec(version, live_form)
    paths = spec.document.get("paths", {})
    if path_template not in paths:
        raise AssertionError(f"Azure OpenAI {version} defines no path {path_template!r}")
    method = method.lower()
    operation = paths[path_template].get(method)
    if not isinstance(operation, dict):
        raise AssertionError(f"Azure OpenAI {version} defines no {method.upper()} {path_template}")
    responses = operation.get("responses", {})
    key = _response_key(responses, status)
    what = f"{method.upper()} {path_template} -> {status}"
    if key is None:
        raise AssertionError(f"{what}: the spec declares no such response ({', '.join(responses)})")
    pointer = ["paths", path_template, method, "responses", key]
    response = responses[key]
    if "$ref" in response:  # a shared response in components/responses
        ref = response["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError(f"{what}: unsupported response $ref {ref!r}")
        pointer = [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
        response = spec.document
        for part in pointer:
            response = response[part]
    content = response.get("content", {})
    if content_type not in content or "schema" not in content[content_type]:
        raise AssertionError(
            f"{what} (response {key!r}): no {content_type} schema; declared: {', '.join(content)}"
        )
    _check(spec, [*pointer, "content", content_type, "schema"], body, f"{what} ({key!r})")


def validate_azure_schema(
    version: str, schema_name: str, body: Any, *, live_form: bool = False
) -> None:
    """Check ``body`` against ``#/components/schemas/<schema_name>`` (e.g. a streamed chunk
    against ``createChatCompletionStreamResponse``). Raises ``AssertionError`` like
    :func:`validate_azure_response`."""
    spec = _spec(version, live_form)
    if schema_name not in spec.document.get("components", {}).get("schemas", {}):
        raise AssertionError(f"Azure OpenAI {version} defines no schema {schema_name!r}")
    _check(spec, ["components", "schemas", schema_name], body, schema_name)
