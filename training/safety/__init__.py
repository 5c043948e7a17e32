"""Reproduction scripts for the default content classifier (see src/atrium/safety/README.md)."""
