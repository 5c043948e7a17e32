"""Responsible-AI content filtering: results (plain data), content-policy settings, PII and
blocklist detectors. The classifiers and the request-path pipeline are not built yet."""
