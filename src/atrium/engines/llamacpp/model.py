"""With ``sampler_chain``, the only module that touches llama-cpp-python's (untyped, ctypes)
low-level API.

It loads a GGUF model and makes one llama context for it, and wraps what the rest of the
engine needs in typed objects: tokenization, token pieces, end-of-generation checks,
metadata, batches, ``llama_decode``, logits, and per-sequence KV operations (remove, copy a
prefix to another sequence: with a unified KV cache the copy shares the cells).

The context is made with ``llama_context_default_params`` + ``llama_init_from_model``
because the high-level ``Llama`` class does not pass ``n_seq_max`` to the context.
Everything here except tokenization and metadata must be used from the scheduler thread.
"""

from __future__ import annotations

import ctypes
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import numpy.typing as npt

from atrium.engines.llamacpp.sampler_chain import SamplerChain
from atrium.errors import EngineError

logger = logging.getLogger(__name__)
_native_logger = logging.getLogger("atrium.engines.llamacpp.native")


_GGML_LOG_LEVEL_ERROR = 3


def _forward_native_log(level: int, text: bytes | None, user_data: Any) -> None:
    """llama.cpp/ggml log lines go to Python logging (errors at WARNING, the rest at DEBUG)
    instead of stderr."""
    if text:
        line = text.decode("utf-8", errors="replace").rstrip("\n")
        severity = logging.WARNING if level == _GGML_LOG_LEVEL_ERROR else logging.DEBUG
        _native_logger.log(severity, "%s", line)


# The callback object must outlive every call llama.cpp makes to it: keep it referenced
# for the life of the process (it is never rebound).
_LOG_CALLBACK: Any = llama_cpp.llama_log_callback(_forward_native_log)


def silence_native_logs() -> None:
    """Route llama.cpp's (and ggml's) log output to Python logging."""
    llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


@dataclass(frozen=True, slots=True)
class ContextConfig:
    context_size: int
    batch_size: int
    threads: int
    max_sequences: int = 1
    """``n_seq_max``: running sequences plus prefix-cache entries."""
    kv_streams: bool = False
    """One KV stream per sequence id (``n_ctx`` split evenly) instead of one unified cache:
    each token then attends over its own sequence's cells only."""
    kv_budget_bytes: int | None = None
    """With ``kv_streams``: shrink the streams (never below ``MIN_STREAM_TOKENS``, never
    beyond the model's training context) so that the whole KV cache fits in this much."""


MIN_STREAM_TOKENS = 512
STREAM_GRANULARITY = 256


def kv_bytes_per_cell(model: Any) -> int:
    """Bytes of KV cache one token takes (K and V in f16, every layer)."""
    n_head = max(1, int(llama_cpp.llama_model_n_head(model)))
    head_dim = int(llama_cpp.llama_model_n_embd(model)) // n_head
    n_head_kv = int(llama_cpp.llama_model_n_head_kv(model))
    return int(llama_cpp.llama_model_n_layer(model)) * 2 * head_dim * n_head_kv * 2


def fitted_stream_tokens(
    wanted: int, n_streams: int, n_ctx_train: int, bytes_per_cell: int, budget: int
) -> int:
    """The per-stream cells to allocate: ``wanted``, within the budget and the model."""
    fit = budget // max(1, bytes_per_cell * n_streams)
    tokens = min(wanted, n_ctx_train, fit // STREAM_GRANULARITY * STREAM_GRANULARITY)
    return max(tokens, MIN_STREAM_TOKENS)


def default_threads() -> int:
    """The physical cores this process may run on (hyper-threads slow llama.cpp down)."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    usable = usable or os.cpu_count() or 1
    return max(1, usable // _threads_per_core())


def _threads_per_core() -> int:
    siblings = Path("/sys/devices/system/cpu/cpu0/topology/thread_siblings_list")
    try:
        text = siblings.read_text().strip()
    except OSError:
        return 1
    count = 0
    for part in text.split(","):
        low, _, high = part.partition("-")
        try:
            count += int(high) - int(low) + 1 if high else 1
        except ValueError:
            return 1
    return max(1, count)


class Batch:
    """A reusable ``llama_batch`` of at most ``capacity`` tokens, one sequence each."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._raw: Any = llama_cpp.llama_batch_init(capacity, 0, 1)
        self._size = 0
        raw = self._raw
        # the arrays' pointers, fetched once: attribute access on the struct is slow
        self._token: Any = raw.token
        self._pos: Any = raw.pos
        self._n_seq_id: Any = raw.n_seq_id
        self._seq_id: Any = raw.seq_id
        self._logits: Any = raw.logits

    def __len__(self) -> int:
        return self._size

    def clear(self) -> None:
        self._size = 0
        self._raw.n_tokens = 0

    def add(self, token: int, position: int, seq_id: int, *, logits: bool) -> int:
        """Append one token; returns its index in the batch (where its logits will be)."""
        index = self._size
        if index >= self.capacity:
            raise EngineError("llama batch overflow")  # would abort the process in ggml
        self._token[index] = token
        self._pos[index] = position
        self._n_seq_id[index] = 1
        self._seq_id[index][0] = seq_id
        self._logits[index] = logits
        self._size = index + 1
        return index

    def seal(self) -> None:
        """Set the token count of the raw batch (call once, before decoding it)."""
        self._raw.n_tokens = self._size

    def free(self) -> None:
        if self._raw is not None:
            llama_cpp.llama_batch_free(self._raw)
            self._raw = None


class LlamaModel:
    """A loaded GGUF model and its llama context."""

    def __init__(self, path: Path, config: ContextConfig) -> None:
        silence_native_logs()
        llama_cpp.llama_backend_init()
        model_params = llama_cpp.llama_model_default_params()
        self._model: Any = llama_cpp.llama_model_load_from_file(
            str(path).encode("utf-8"), model_params
        )
        if not self._model:
            raise EngineError(f"llama.cpp could not load the model {path}")
        self._vocab: Any = llama_cpp.llama_model_get_vocab(self._model)
        self._context: Any = self._new_context(config)
        self._memory: Any = llama_cpp.llama_get_memory(self._context)
        self.n_ctx = int(llama_cpp.llama_n_ctx(self._context))
        self.kv_streams = config.kv_streams
        self.n_ctx_seq = int(llama_cpp.llama_n_ctx_seq(self._context))
        self.n_batch = int(llama_cpp.llama_n_batch(self._context))
        self.n_seq_max = int(llama_cpp.llama_n_seq_max(self._context))
        self.n_vocab = int(llama_cpp.llama_vocab_n_tokens(self._vocab))
        self.n_ctx_train = int(llama_cpp.llama_model_n_ctx_train(self._model))
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self.bos_id = self._special_id(llama_cpp.llama_vocab_bos(self._vocab))
        self.eos_id = self._special_id(llama_cpp.llama_vocab_eos(self._vocab))
        self.bos_text = self.token_text(self.bos_id)
        self.eos_text = self.token_text(self.eos_id)
        self.chat_template = self._chat_template()

    def _new_context(self, config: ContextConfig) -> Any:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = config.context_size
        if config.kv_streams and config.kv_budget_bytes:
            per_stream = fitted_stream_tokens(
                config.context_size // config.max_sequences,
                config.max_sequences,
                int(llama_cpp.llama_model_n_ctx_train(self._model)),
                kv_bytes_per_cell(self._model),
                config.kv_budget_bytes,
            )
            params.n_ctx = per_stream * config.max_sequences
        params.n_batch = config.batch_size
        params.n_ubatch = config.batch_size
        params.n_seq_max = config.max_sequences
        params.n_threads = config.threads
        params.n_threads_batch = config.threads
        params.kv_unified = not config.kv_streams
        # Flash attention: measured here 15-20% more tok/s at 1 and 16 sequences (auto left
        # it off on this CPU).
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_ENABLED
        params.no_perf = True
        context = llama_cpp.llama_init_from_model(self._model, params)
        if not context:
            llama_cpp.llama_model_free(self._model)
            self._model = None
            raise EngineError("llama.cpp could not create a context for the model")
        return context

    @staticmethod
    def _special_id(token: int) -> int | None:
        return None if token < 0 else int(token)

    def _chat_template(self) -> str | None:
        raw = llama_cpp.llama_model_chat_template(self._model, None)
        return None if raw is None else bytes(raw).decode("utf-8", errors="replace")

    # -- vocabulary (read-only: safe from any thread) --------------------------------------

    def token_text(self, token: int | None) -> str:
        """The vocabulary text of a token (e.g. ``<|im_end|>``); "" for None."""
        if token is None:
            return ""
        raw = llama_cpp.llama_vocab_get_text(self._vocab, token)
        return "" if raw is None else bytes(raw).decode("utf-8", errors="replace")

    def meta(self, key: str) -> str | None:
        """A GGUF metadata value as text, or None when the key is absent."""
        size = 256
        while True:
            buffer = ctypes.create_string_buffer(size)
            length = llama_cpp.llama_model_meta_val_str(
                self._model, key.encode("utf-8"), buffer, size
            )
            if length < 0:
                return None
            if length < size:
                return buffer.value.decode("utf-8", errors="replace")
            size = length + 1

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        """Token ids of ``text``; ``add_special`` adds BOS/EOS as the model asks."""
        data = text.encode("utf-8", errors="replace")
        capacity = len(data) + 8
        while True:
            tokens = (llama_cpp.llama_token * capacity)()
            count = llama_cpp.llama_tokenize(
                self._vocab, data, len(data), tokens, capacity, add_special, parse_special
            )
            if count >= 0:
                return list(tokens[:count])
            if -count <= capacity:
                raise EngineError("llama_tokenize failed")
            capacity = -count

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (control tokens render as nothing)."""
        size = 32
        while True:
            buffer = ctypes.create_string_buffer(size)
            length = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, size, 0, False)
            if length >= 0:
                return buffer.raw[:length]
            size = -length

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    # -- the context (scheduler thread only) -----------------------------------------------

    def new_batch(self) -> Batch:
        return Batch(self.n_batch)

    def new_sampler_chain(self) -> SamplerChain:
        return SamplerChain(self.n_vocab, self._vocab)

    def decode(self, batch: Batch) -> int:
        """Run the model over ``batch``; 0 on success (llama.cpp's status otherwise:
        1 means no room in the KV cache)."""
        batch.seal()
        return int(llama_cpp.llama_decode(self._context, batch._raw))

    def sample(self, chain: SamplerChain, index: int) -> int:
        return chain.sample(self._context, index)

    def logits(self, index: int) -> npt.NDArray[np.float32]:
        """The logits at ``index`` of the last batch (a view: copy before the next decode)."""
        pointer = llama_cpp.llama_get_logits_ith(self._context, index)
        if not pointer:
            raise EngineError(f"no logits at batch index {index}")
        return np.ctypeslib.as_array(pointer, shape=(self.n_vocab,))

    def clear_sequence(self, seq_id: int) -> None:
        """Drop every KV cell of ``seq_id``."""
        llama_cpp.llama_memory_seq_rm(self._memory, seq_id, -1, -1)

    def truncate_sequence(self, seq_id: int, length: int) -> None:
        """Drop the KV cells of ``seq_id`` at positions ``length`` and beyond."""
        llama_cpp.llama_memory_seq_rm(self._memory, seq_id, length, -1)

    def copy_prefix(self, source: int, target: int, length: int) -> None:
        """Give ``target`` the KV of positions ``[0, length)`` of ``source``: shared cells in
        a unified cache; between streams llama.cpp copies whole streams only, so the copy is
        trimmed afterwards."""
        if self.kv_streams:
            llama_cpp.llama_memory_seq_cp(self._memory, source, target, -1, -1)
            llama_cpp.llama_memory_seq_rm(self._memory, target, length, -1)
        else:
            llama_cpp.llama_memory_seq_cp(self._memory, source, target, 0, length)

    def close(self) -> None:
        if self._context is not None:
            llama_cpp.llama_free(self._context)
            self._context = None
        if self._model is not None:
            llama_cpp.llama_model_free(self._model)
            self._model = None
