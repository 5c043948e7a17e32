"""OpenAI chat completions: request and response models, and the canonical conversion."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_serializer

from atrium.engines.base import ChatMessage, GenerationRequest, Role, SamplingParams, ToolFormat
from atrium.errors import InvalidRequestError, UnsupportedParameterError
from atrium.protocol.common import MAX_TOP_LOGPROBS, SamplingFields, check_max_tokens
from atrium.protocol.tools import (
    FunctionCallChoice,
    FunctionCallParam,
    FunctionDefinition,
    ResponseFormat,
    ToolCallParam,
    ToolChoice,
    ToolParam,
    message_call,
    output_request,
)
from atrium.structured.plan import OutputPlan, OutputRequest

# Parameters of OpenAI's chat API that Atrium does not implement yet, with the values that
# request nothing (and therefore pass).
CHAT_NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "store": (False,),
    "metadata": ({},),
    "service_tier": ("auto", "default"),
    "modalities": (["text"],),
    "audio": (),
    "prediction": (),
    "reasoning_effort": (),
    "web_search_options": (),
    "verbosity": (),
    "prompt_cache_key": (),
    "safety_identifier": (),
}

ROLE_ALIASES: dict[str, Role] = {
    "system": "system",
    "developer": "system",
    "user": "user",
    "assistant": "assistant",
}


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessageParam(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallParam] | None = None
    tool_call_id: str | None = None
    function_call: FunctionCallParam | None = None
    refusal: str | None = None
    audio: dict[str, Any] | None = None

    def to_canonical(self, index: int, call_names: dict[str, str]) -> ChatMessage:
        """This message with its text, and its tool calls or the call it answers (a tool
        result names its function). ``call_names`` maps the ids of earlier tool calls to their
        function names (this message's calls are added to it)."""
        where = f"messages[{index}]"
        if self.audio:
            raise UnsupportedParameterError(
                f"Unsupported parameter: '{where}.audio' is not supported by Atrium yet.",
                param=f"{where}.audio",
            )
        if self.role == "tool":
            return self._tool_result(where, call_names)
        if self.role == "function":
            if not self.name:
                raise InvalidRequestError(
                    f"Missing required parameter: '{where}.name'.", param=f"{where}.name"
                )
            return ChatMessage(role="tool", content=self._text(where), name=self.name)
        if self.role != "assistant" and (self.tool_calls or self.function_call):
            field_name = "tool_calls" if self.tool_calls else "function_call"
            raise InvalidRequestError(
                f"Invalid parameter: '{where}.{field_name}' is only allowed in assistant messages.",
                param=f"{where}.{field_name}",
            )
        if self.tool_calls:
            for call in self.tool_calls:
                call_names[call.id] = call.function.name
            calls = tuple(message_call(call.function, call.id) for call in self.tool_calls)
        elif self.function_call is not None:
            calls = (message_call(self.function_call, None),)
        else:
            calls = ()
        role = ROLE_ALIASES[self.role]
        return ChatMessage(role=role, content=self._text(where), name=self.name, tool_calls=calls)

    def _tool_result(self, where: str, call_names: dict[str, str]) -> ChatMessage:
        if self.tool_call_id is None:
            raise InvalidRequestError(
                f"Missing required parameter: '{where}.tool_call_id'.",
                param=f"{where}.tool_call_id",
            )
        name = call_names.get(self.tool_call_id)
        if name is None:
            raise InvalidRequestError(
                f"Invalid parameter: '{where}.tool_call_id' ({self.tool_call_id!r}) does not "
                "answer a tool call of an earlier assistant message.",
                param=f"{where}.tool_call_id",
            )
        return ChatMessage(
            role="tool", content=self._text(where), name=name, tool_call_id=self.tool_call_id
        )

    def _text(self, where: str) -> str:
        if self.content is None:
            if self.role == "assistant":
                return ""
            raise InvalidRequestError(
                f"Invalid value for '{where}.content': expected a string or an array of "
                "content parts, got null.",
                param=f"{where}.content",
            )
        if isinstance(self.content, str):
            return self.content
        texts: list[str] = []
        for position, part in enumerate(self.content):
            if part.type != "text" or part.text is None:
                raise UnsupportedParameterError(
                    f"Unsupported content part type '{part.type}': Atrium accepts text parts only.",
                    param=f"{where}.content[{position}].type",
                )
            texts.append(part.text)
        return "".join(texts)


class ChatCompletionRequest(SamplingFields):
    messages: list[ChatMessageParam] = Field(min_length=1)
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)
    response_format: ResponseFormat | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    functions: list[FunctionDefinition] | None = None
    function_call: FunctionCallChoice | None = None
    _output: OutputRequest | None = PrivateAttr(default=None)

    def output_request(self) -> OutputRequest:
        """What this request asks of the output (checked: a bad one is a 400)."""
        if self._output is None:
            self._output = output_request(
                response_format=self.response_format,
                tools=self.tools,
                tool_choice=self.tool_choice,
                parallel_tool_calls=self.parallel_tool_calls,
                functions=self.functions,
                function_call=self.function_call,
            )
        return self._output

    def output_plan(self, tool_format: ToolFormat) -> OutputPlan:
        """The grammar, the tool rendering and the output reading for a model of
        ``tool_format``."""
        return self.output_request().plan(tool_format)

    def to_canonical(self, request_id: str) -> GenerationRequest:
        """The request with its messages in their structure, every argument checked; the
        plan of the model's tool format (``output_plan(...).apply``) makes it what the
        engine gets."""
        self.check_parameters(CHAT_NEUTRAL_VALUES)
        max_tokens = check_max_tokens(self.max_completion_tokens, "max_completion_tokens")
        if max_tokens is None:
            max_tokens = check_max_tokens(self.max_tokens, "max_tokens")
        self.output_request()
        call_names: dict[str, str] = {}
        messages = tuple(
            message.to_canonical(index, call_names) for index, message in enumerate(self.messages)
        )
        sampling = sampling_params(self, max_tokens, *self._logprobs())
        return GenerationRequest(
            request_id=request_id, model=self.model, messages=messages, sampling=sampling
        )

    def _logprobs(self) -> tuple[bool, int]:
        if self.top_logprobs is not None and not self.logprobs:
            raise InvalidRequestError(
                "Invalid value for 'top_logprobs': 'logprobs' must be true to use it.",
                param="top_logprobs",
            )
        return bool(self.logprobs), self.top_logprobs or 0


def sampling_params(
    fields: SamplingFields, max_tokens: int | None, logprobs: bool, top_logprobs: int
) -> SamplingParams:
    return SamplingParams(
        max_tokens=max_tokens,
        temperature=1.0 if fields.temperature is None else fields.temperature,
        top_p=1.0 if fields.top_p is None else fields.top_p,
        seed=fields.seed,
        presence_penalty=fields.presence_penalty or 0.0,
        frequency_penalty=fields.frequency_penalty or 0.0,
        stop=fields.stop_sequences(),
        top_k=fields.top_k or 0,
        min_p=fields.min_p or 0.0,
        repetition_penalty=1.0 if fields.repetition_penalty is None else fields.repetition_penalty,
        logit_bias=fields.logit_bias_pairs(),
        n=fields.n or 1,
        logprobs=logprobs,
        top_logprobs=top_logprobs,
    )


class PromptTokensDetails(BaseModel):
    cached_tokens: int = 0


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: PromptTokensDetails = Field(default_factory=PromptTokensDetails)


class TopLogprobEntry(BaseModel):
    token: str
    logprob: float
    bytes: list[int] | None


class LogprobEntry(TopLogprobEntry):
    top_logprobs: list[TopLogprobEntry]


class ChoiceLogprobs(BaseModel):
    content: list[LogprobEntry] | None
    refusal: None = None


class FunctionCall(BaseModel):
    name: str
    arguments: str  # JSON text


class ToolCall(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


def _absent(value: object) -> bool:
    return value is None


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None  # None when the content filter withheld the answer, or tool calls
    refusal: None = None
    # Omitted unless the model called tools (keeps plain answers as they were).
    tool_calls: list[ToolCall] | None = Field(default=None, exclude_if=_absent)
    function_call: FunctionCall | None = Field(default=None, exclude_if=_absent)


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage
    # Omitted rather than null: Azure's specs type it as a string (OpenAI's allow absent).
    system_fingerprint: str | None = Field(default=None, exclude_if=lambda value: value is None)


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    # Fragments: ``[{"index", "id", "type", "function": {"name", "arguments"}}]`` opening a
    # call, then ``[{"index", "function": {"arguments": piece}}]`` (OpenAI's chunk shapes).
    tool_calls: list[dict[str, Any]] | None = None
    function_call: dict[str, str] | None = None  # legacy: {"name", "arguments"} pieces

    @model_serializer
    def _only_present_fields(self) -> dict[str, Any]:
        # OpenAI omits absent delta fields (the closing chunk's delta is ``{}``).
        fields = {
            "role": self.role,
            "content": self.content,
            "tool_calls": self.tool_calls,
            "function_call": self.function_call,
        }
        return {key: value for key, value in fields.items() if value is not None}


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    logprobs: ChoiceLogprobs | None = None
    finish_reason: str | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    # Omitted rather than null: Azure's specs type it as a string (OpenAI's allow absent).
    system_fingerprint: str | None = Field(default=None, exclude_if=lambda value: value is None)
    usage: Usage | None = None
