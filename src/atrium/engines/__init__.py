"""Engines: everything that turns a canonical request into tokens lives behind ``Engine``."""
