"""OpenAI's structured-output and tool-calling request fields, and the plan they make.

``response_format``, ``tools`` / ``tool_choice`` / ``parallel_tool_calls`` and the legacy
``functions`` / ``function_call`` are checked here (every problem is a 400 naming its
``param``) and turned into an :class:`~atrium.structured.plan.OutputRequest`, which becomes
the plan for the model's tool format once the deployment is known (formats:
``atrium.structured.tools`` and ``atrium.structured.hermes``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from atrium.engines.base import MessageToolCall
from atrium.errors import InvalidRequestError
from atrium.structured import JSON_OBJECT_GBNF, UnsupportedSchemaError, schema_to_gbnf
from atrium.structured.plan import TEXT_PLAN, OutputPlan, OutputRequest, ToolUse
from atrium.structured.tools import EMPTY_PARAMETERS, FunctionSpec

Name = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
MAX_TOOLS = 128
ANY_OBJECT: Mapping[str, Any] = {"type": "object"}


class JsonSchemaFormat(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: Name
    description: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class FunctionDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolParam(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: FunctionDefinition


class FunctionName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str


class NamedToolChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    function: FunctionName


ToolChoice = Literal["none", "auto", "required"] | NamedToolChoice
FunctionCallChoice = Literal["none", "auto"] | FunctionName


class FunctionCallParam(BaseModel):
    """A call in an earlier assistant message (``arguments`` is JSON text)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    arguments: str


class ToolCallParam(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    type: Literal["function"] = "function"
    function: FunctionCallParam


def message_call(call: FunctionCallParam, call_id: str | None) -> MessageToolCall:
    """An earlier call as the canonical message carries it."""
    return MessageToolCall(call_id, call.name, call.arguments)


def checked_grammar(schema: Mapping[str, Any], param: str) -> str:
    """The grammar of ``schema``; a 400 naming ``param`` when it is not a valid JSON Schema
    or uses a keyword constrained decoding cannot enforce."""
    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        detail = f" (at '{where}')" if where else ""
        raise InvalidRequestError(
            f"Invalid schema for '{param}': {exc.message}{detail}.", param=param
        ) from exc
    try:
        return schema_to_gbnf(schema)
    except UnsupportedSchemaError as exc:
        where = f" at '{exc.path}'" if exc.path else ""
        raise InvalidRequestError(
            f"Invalid schema for '{param}': the keyword '{exc.keyword}'{where} is not "
            f"supported ({exc}).",
            param=param,
        ) from exc


def function_spec(definition: FunctionDefinition, param: str) -> FunctionSpec:
    parameters = dict(EMPTY_PARAMETERS) if definition.parameters is None else definition.parameters
    if parameters.get("type") != "object":
        raise InvalidRequestError(
            f"Invalid schema for '{param}.parameters': the parameters of a function must be a "
            "JSON Schema of type 'object'.",
            param=f"{param}.parameters",
        )
    checked_grammar(parameters, f"{param}.parameters")
    return FunctionSpec(definition.name, definition.description, parameters)


def function_specs(
    definitions: Sequence[FunctionDefinition], where: str, path: str
) -> tuple[FunctionSpec, ...]:
    if not definitions:
        raise InvalidRequestError(
            f"Invalid '{where}': empty array. Expected an array with minimum length 1.",
            param=where,
        )
    if len(definitions) > MAX_TOOLS:
        raise InvalidRequestError(
            f"Invalid '{where}': at most {MAX_TOOLS} are allowed, got {len(definitions)}.",
            param=where,
        )
    specs: list[FunctionSpec] = []
    for index, definition in enumerate(definitions):
        param = path.format(index=index)
        if any(spec.name == definition.name for spec in specs):
            raise InvalidRequestError(
                f"Invalid '{where}': the function name '{definition.name}' is used twice.",
                param=f"{param}.name",
            )
        specs.append(function_spec(definition, param))
    return tuple(specs)


def output_request(
    *,
    response_format: ResponseFormat | None,
    tools: list[ToolParam] | None,
    tool_choice: ToolChoice | None,
    parallel_tool_calls: bool | None,
    functions: list[FunctionDefinition] | None,
    function_call: FunctionCallChoice | None,
) -> OutputRequest:
    base = format_plan(response_format)
    if tools is not None and functions is not None:
        raise InvalidRequestError(
            "Invalid parameters: 'tools' and the deprecated 'functions' cannot be used together.",
            param="functions",
        )
    if functions is not None:
        specs = function_specs(functions, "functions", "functions[{index}]")
        choice = function_call or "auto"
        named = choice.name if isinstance(choice, FunctionName) else None
        use = tool_use(
            specs, choice, named=named, choice_param="function_call", parallel=False, legacy=True
        )
        return OutputRequest(base, use)
    if function_call is not None and function_call != "none":
        raise InvalidRequestError(
            "Invalid value for 'function_call': 'functions' must be given to use it.",
            param="function_call",
        )
    if tools is None:
        if tool_choice is not None and tool_choice not in ("none", "auto"):
            raise InvalidRequestError(
                "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' "
                "are specified.",
                param="tool_choice",
            )
        return OutputRequest(base)
    specs = function_specs(tools_functions(tools), "tools", "tools[{index}].function")
    tool_choice = tool_choice or "auto"
    named = tool_choice.function.name if isinstance(tool_choice, NamedToolChoice) else None
    parallel = True if parallel_tool_calls is None else parallel_tool_calls
    use = tool_use(specs, tool_choice, named=named, choice_param="tool_choice", parallel=parallel)
    return OutputRequest(base, use)


def tools_functions(tools: list[ToolParam]) -> list[FunctionDefinition]:
    return [tool.function for tool in tools]


def format_plan(response_format: ResponseFormat | None) -> OutputPlan:
    if response_format is None or response_format.type == "text":
        if response_format is not None and response_format.json_schema is not None:
            raise InvalidRequestError(
                "Invalid parameter: 'response_format.json_schema' is only allowed when "
                "'response_format.type' is 'json_schema'.",
                param="response_format.json_schema",
            )
        return TEXT_PLAN
    if response_format.type == "json_object":
        return OutputPlan("json_object", JSON_OBJECT_GBNF, ANY_OBJECT)
    spec = response_format.json_schema
    if spec is None:
        raise InvalidRequestError(
            "Missing required parameter: 'response_format.json_schema'.",
            param="response_format.json_schema",
        )
    if spec.schema_ is None:  # OpenAI: no schema means any JSON object
        return OutputPlan("json_object", JSON_OBJECT_GBNF, ANY_OBJECT)
    grammar = checked_grammar(spec.schema_, "response_format.json_schema.schema")
    return OutputPlan("json_schema", grammar, spec.schema_)


def tool_use(
    specs: tuple[FunctionSpec, ...],
    choice: object,
    *,
    named: str | None,
    choice_param: str,
    parallel: bool,
    legacy: bool = False,
) -> ToolUse | None:
    """What the model may do with ``specs`` (None: nothing, ``tool_choice: "none"``)."""
    if choice == "none":
        return None
    if named is not None and not any(spec.name == named for spec in specs):
        raise InvalidRequestError(
            f"Invalid value for '{choice_param}': no function named '{named}' was declared.",
            param=choice_param,
        )
    return ToolUse(
        specs, forced=named, required=choice == "required", parallel=parallel, legacy=legacy
    )
