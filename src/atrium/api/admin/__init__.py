"""The admin API: deployments, keys, usage and the audit log."""
