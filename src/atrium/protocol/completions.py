"""OpenAI legacy text completions (``POST /v1/completions``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from atrium.engines.base import GenerationRequest
from atrium.errors import InvalidRequestError, UnsupportedParameterError
from atrium.protocol.chat import Usage, sampling_params
from atrium.protocol.common import SamplingFields, check_max_tokens

# OpenAI's default for the legacy endpoint.
DEFAULT_COMPLETION_MAX_TOKENS = 16
MAX_LEGACY_LOGPROBS = 5

COMPLETION_NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "best_of": (1,),
    "echo": (False,),
    "suffix": ("",),
}


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = DEFAULT_COMPLETION_MAX_TOKENS
    logprobs: int | None = Field(default=None, ge=0, le=MAX_LEGACY_LOGPROBS)

    def to_canonical(self, request_id: str) -> GenerationRequest:
        self.check_parameters(COMPLETION_NEUTRAL_VALUES)
        max_tokens = check_max_tokens(self.max_tokens, "max_tokens")
        return GenerationRequest(
            request_id=request_id,
            model=self.model,
            prompt=self._prompt_text(),
            sampling=sampling_params(
                self, max_tokens, self.logprobs is not None, self.logprobs or 0
            ),
        )

    def _prompt_text(self) -> str:
        prompt = self.prompt
        if isinstance(prompt, str):
            return prompt
        if not prompt:
            raise InvalidRequestError("Invalid 'prompt': empty array.", param="prompt")
        if len(prompt) == 1 and isinstance(prompt[0], str):
            return prompt[0]
        if all(isinstance(item, str) for item in prompt):
            raise UnsupportedParameterError(
                "Unsupported value: 'prompt' as a batch of several strings is not supported "
                "by Atrium yet; send one request per prompt.",
                param="prompt",
            )
        raise UnsupportedParameterError(
            "Unsupported value: 'prompt' as token ids is not supported by Atrium yet.",
            param="prompt",
        )


class CompletionLogprobs(BaseModel):
    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]]
    text_offset: list[int]


class CompletionChoice(BaseModel):
    text: str
    index: int = 0
    logprobs: CompletionLogprobs | None = None
    finish_reason: str | None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    # Omitted rather than null: Azure's specs type it as a string (OpenAI's allow absent).
    system_fingerprint: str | None = Field(default=None, exclude_if=lambda value: value is None)
