"""Atrium: a self-hosted AI service speaking the OpenAI and Azure OpenAI APIs."""

__version__ = "0.1.0"
