"""Committed weights and manifest of the default content classifier (package data)."""
