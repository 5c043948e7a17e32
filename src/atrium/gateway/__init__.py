"""The gateway pipeline: the same for every dialect and every engine."""
