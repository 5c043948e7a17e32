"""Offline training code (not shipped with Atrium)."""
