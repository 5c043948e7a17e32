"""Responsible-AI content filtering: results (plain data) now; policies and classifiers next."""
