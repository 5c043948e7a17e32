"""OpenAI legacy text completions (``POST /v1/completions``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from atrium.engines.base import GenerationRequest
from atrium.errors import InvalidRequestError, UnsupportedParameterError
from atrium.protocol.chat import Usage, sampling_params
from atrium.protocol.common import SamplingFields, check_max_tokens

# OpenAI's default for the legacy endpoint.
DEFAULT_COMPLETION_MAX_TOKENS = 16

COMPLETION_NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "n": (1,),
    "best_of": (1,),
    "echo": (False,),
    "logprobs": (0,),
    "logit_bias": ({},),
    "suffix": ("",),
}


class CompletionRequest(SamplingFields):
    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int | None = DEFAULT_COMPLETION_MAX_TOKENS

    def to_canonical(self, request_id: str) -> GenerationRequest:
        self.check_parameters(COMPLETION_NEUTRAL_VALUES)
        max_tokens = check_max_tokens(self.max_tokens, "max_tokens")
        return GenerationRequest(
            request_id=request_id,
            model=self.model,
            prompt=self._prompt_text(),
            sampling=sampling_params(self, max_tokens),
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


class CompletionChoice(BaseModel):
    text: str
    index: int = 0
    logprobs: None = None
    finish_reason: str | None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
    system_fingerprint: str | None = None
