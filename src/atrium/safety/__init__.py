"""Responsible-AI content filtering: results (plain data), content-policy settings, PII and
blocklist detectors, and the content classifiers (``classifier``: the interface;
``linear``: the default linear classifier over committed weights, see ``README.md``)."""
