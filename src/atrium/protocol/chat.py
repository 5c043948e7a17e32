"""OpenAI chat completions: request and response models, and the canonical conversion."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from atrium.engines.base import ChatMessage, GenerationRequest, Role, SamplingParams
from atrium.errors import InvalidRequestError, UnsupportedParameterError
from atrium.protocol.common import MAX_TOP_LOGPROBS, SamplingFields, check_max_tokens

# Parameters of OpenAI's chat API that Atrium does not implement yet, with the values that
# request nothing (and therefore pass).
CHAT_NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "response_format": ({"type": "text"},),
    "tools": ([],),
    "tool_choice": ("none",),
    "parallel_tool_calls": (),
    "functions": ([],),
    "function_call": ("none",),
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
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    function_call: dict[str, Any] | None = None
    refusal: str | None = None
    audio: dict[str, Any] | None = None

    def to_canonical(self, index: int) -> ChatMessage:
        where = f"messages[{index}]"
        if self.role not in ROLE_ALIASES:
            raise UnsupportedParameterError(
                f"Unsupported value: messages with role '{self.role}' are not supported by "
                "Atrium yet.",
                param=f"{where}.role",
            )
        for field_name in ("tool_calls", "function_call", "audio"):
            if getattr(self, field_name):
                raise UnsupportedParameterError(
                    f"Unsupported parameter: '{where}.{field_name}' is not supported by "
                    "Atrium yet.",
                    param=f"{where}.{field_name}",
                )
        return ChatMessage(role=ROLE_ALIASES[self.role], content=self._text(where), name=self.name)

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

    def to_canonical(self, request_id: str) -> GenerationRequest:
        self.check_parameters(CHAT_NEUTRAL_VALUES)
        max_tokens = check_max_tokens(self.max_completion_tokens, "max_completion_tokens")
        if max_tokens is None:
            max_tokens = check_max_tokens(self.max_tokens, "max_tokens")
        messages = tuple(message.to_canonical(index) for index, message in enumerate(self.messages))
        return GenerationRequest(
            request_id=request_id,
            model=self.model,
            messages=messages,
            sampling=sampling_params(self, max_tokens, *self._logprobs()),
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


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str | None  # None when the content filter withheld the answer
    refusal: None = None


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

    @model_serializer
    def _only_present_fields(self) -> dict[str, str]:
        # OpenAI omits absent delta fields (the closing chunk's delta is ``{}``).
        fields = {"role": self.role, "content": self.content}
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
