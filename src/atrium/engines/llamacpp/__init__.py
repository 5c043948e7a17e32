"""The embedded engine: llama.cpp in this process, through llama-cpp-python."""

from atrium.engines.llamacpp.engine import LlamaCppEngine
from atrium.engines.llamacpp.scheduler import GenerationAbortedError
from atrium.engines.llamacpp.template import ChatTemplateError

__all__ = ["ChatTemplateError", "GenerationAbortedError", "LlamaCppEngine"]
