"""Operator endpoints under /admin, guarded by HEEDFUL_ADMIN_TOKEN."""
