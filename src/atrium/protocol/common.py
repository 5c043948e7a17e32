"""Pieces shared by the OpenAI request models: sampling fields and parameter policing."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from atrium.errors import InvalidRequestError, UnknownParameterError, UnsupportedParameterError

NonEmptyStop = Annotated[str, StringConstraints(min_length=1)]
MAX_STOP_SEQUENCES = 4
MAX_CHOICES = 16
MAX_TOP_LOGPROBS = 20


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class SamplingFields(BaseModel):
    """Fields common to chat and legacy completions, as OpenAI defines their ranges."""

    model_config = ConfigDict(extra="allow")

    model: Annotated[str, StringConstraints(min_length=1)]
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, ge=0.0, le=1.0)
    presence_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    frequency_penalty: float | None = Field(default=None, ge=-2.0, le=2.0)
    seed: int | None = None
    stop: NonEmptyStop | list[NonEmptyStop] | None = None
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    user: str | None = None
    n: int | None = Field(default=None, ge=1, le=MAX_CHOICES)
    logit_bias: dict[str, float] | None = None
    # Extensions many OpenAI-compatible servers accept (vLLM, llama.cpp's server).
    top_k: int | None = Field(default=None, ge=0)
    min_p: float | None = Field(default=None, ge=0.0, le=1.0)
    repetition_penalty: float | None = Field(default=None, gt=0.0, le=10.0)

    def logit_bias_pairs(self) -> tuple[tuple[int, float], ...]:
        """``{"50256": -100}`` → ``((50256, -100.0),)``, checking ids and ranges."""
        pairs: list[tuple[int, float]] = []
        for key, bias in (self.logit_bias or {}).items():
            if not key.strip().isdigit():
                raise InvalidRequestError(
                    f"Invalid key in 'logit_bias': {key!r} is not a token id.", param="logit_bias"
                )
            if not -100.0 <= bias <= 100.0:
                raise InvalidRequestError(
                    f"Invalid value in 'logit_bias' for token {key}: {bias} is outside "
                    "[-100, 100].",
                    param="logit_bias",
                )
            pairs.append((int(key), float(bias)))
        return tuple(pairs)

    def stop_sequences(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop)
        if len(stops) > MAX_STOP_SEQUENCES:
            raise InvalidRequestError(
                f"Invalid 'stop': at most {MAX_STOP_SEQUENCES} stop sequences are allowed, "
                f"got {len(stops)}.",
                param="stop",
            )
        return tuple(dict.fromkeys(stops))

    def include_usage(self) -> bool:
        if self.stream_options is None:
            return False
        if not self.stream:
            raise InvalidRequestError(
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                param="stream_options",
            )
        return self.stream_options.include_usage

    def check_parameters(self, neutral_values: dict[str, tuple[Any, ...]]) -> None:
        """Refuse text that is not Unicode, parameters we do not know, and known ones we
        cannot honour yet.

        ``neutral_values`` maps each parameter the API defines but Atrium does not implement
        yet to the values that ask for nothing (``n=1``, ``logprobs=false``...): those pass,
        anything else is a 400 naming the parameter, never a silent no-op.
        """
        check_unicode(self.model_dump(exclude_none=True))
        for name, value in (self.model_extra or {}).items():
            if name not in neutral_values:
                raise UnknownParameterError(
                    f"Unrecognized request argument supplied: {name}", param=name
                )
            if value is not None and value not in neutral_values[name]:
                raise UnsupportedParameterError(
                    f"Unsupported parameter: '{name}' is not supported by Atrium yet"
                    f" (got {value!r}).",
                    param=name,
                )


def check_unicode(value: Any, param: str = "") -> None:
    """Refuse strings anywhere in ``value`` that are not valid Unicode.

    JSON lets a client send an unpaired surrogate (``"\\ud800"``, half an emoji); such a
    string cannot be encoded, tokenized or even echoed back in an error, so it is a 400
    naming the parameter that holds it.
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidRequestError(
                f"Invalid value for '{param}': the string holds an unpaired surrogate at "
                f"position {exc.start}; text must be valid Unicode.",
                param=param,
            ) from exc
    elif isinstance(value, dict):
        for key, item in value.items():
            check_unicode(key, param)
            check_unicode(item, f"{param}.{key}" if param else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_unicode(item, f"{param}[{index}]")


def check_max_tokens(value: int | None, param: str) -> int | None:
    if value is not None and value < 1:
        raise InvalidRequestError(
            f"Invalid '{param}': integer below minimum value. Expected a value >= 1, "
            f"but got {value} instead.",
            param=param,
        )
    return value
