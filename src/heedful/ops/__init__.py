"""Operational endpoints: health, readiness, metrics, the served spec and its docs page."""
