"""Webhooks: management API, event fan-out, signed and retried delivery."""
