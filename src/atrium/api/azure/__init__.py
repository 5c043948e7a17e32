"""The Azure OpenAI dialect: classic deployment routes and the v1 routes."""
