"""Secrets: generated with high entropy, stored only as hashes, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_secret(prefix: str = "", nbytes: int = 32) -> str:
    """A random URL-safe secret (256 bits by default), optionally prefixed for recognisability."""
    return prefix + secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest. Secrets are random and long, so a fast hash cannot be brute-forced."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def new_error_id() -> int:
    """A positive int64 tying an error response to its log line."""
    return secrets.randbits(62) + 1
