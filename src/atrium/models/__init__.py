"""Where model weights come from: the catalog of packaged models and GGUF paths."""
