"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="module")
def vocab() -> Iterator[Any]:
    """The default model's vocabulary (no weights), to compile and run grammars with."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from atrium.errors import ConfigurationError
    from atrium.models.registry import CATALOG, DEFAULT_MODEL

    try:
        path = CATALOG[DEFAULT_MODEL].locate()
    except ConfigurationError as exc:
        pytest.skip(str(exc))
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    assert model
    yield llama_cpp.llama_model_get_vocab(model)
    llama_cpp.llama_model_free(model)
