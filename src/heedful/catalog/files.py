"""Where catalog files live: one small interface, two backends.

- `local` (default): heedful itself serves `PUT /uploads/{token}`; the token is an
  HMAC-signed, expiring capability naming the upload, so no bearer header is needed (like a
  pre-signed S3 URL). Files go to `HEEDFUL_CATALOG_UPLOAD_DIR`.
- `s3`: a real pre-signed S3 PUT URL (boto3) for any S3-compatible endpoint; credentials come
  from boto3's usual chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profile, role).

An upload row records its backend and location (path, or bucket/key/endpoint), so the worker
reads a file without needing the API's settings.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import io
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

from heedful.config import Settings
from heedful.core.numbers import parse_digits

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

READ_BUFFER = 1024 * 1024


class UploadStore(Protocol):
    backend: str

    def location_for(self, public_id: str) -> dict[str, Any]: ...

    def upload_url(
        self, public_id: str, location: dict[str, Any], expires: datetime, base_url: str
    ) -> str: ...


# --- local ----------------------------------------------------------------------------------


class LocalStore:
    backend = "local"

    def __init__(self, directory: Path, secret: bytes) -> None:
        self.directory = directory
        self.secret = secret

    def location_for(self, public_id: str) -> dict[str, Any]:
        return {"path": str((self.directory / f"{public_id}.ndjson").resolve())}

    def upload_url(
        self, public_id: str, location: dict[str, Any], expires: datetime, base_url: str
    ) -> str:
        return f"{base_url.rstrip('/')}/uploads/{sign_capability(self.secret, public_id, expires)}"


# --- files being received (local backend) ---------------------------------------------------

PARTIAL_GLOB = ".*.part"
# A partial file this fresh may have just been opened and not yet locked by its writer.
PARTIAL_MIN_AGE_SECONDS = 60.0


def open_partial(final: Path) -> tuple[Path, IO[bytes]]:
    """A new hidden file beside `final` to stream a body into, locked for as long as it stays
    open: `sweep_partials` removes only unlocked ones, the leftovers of a process that died
    mid-PUT (a partial file can be up to the size limit, 2 GB)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    path = final.parent / f".{final.name}.{secrets.token_hex(6)}.part"
    handle = open(path, "wb")  # noqa: SIM115  # the caller closes it, which unlocks it
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
    return path, handle


def sweep_partials(directory: Path, now: float | None = None) -> int:
    """Remove the partial files in `directory` no process is writing (none holds its lock);
    returns how many went. Without `fcntl` (not on Windows) nothing can tell, so none go."""
    if fcntl is None:
        return 0
    cutoff = (time.time() if now is None else now) - PARTIAL_MIN_AGE_SECONDS
    removed = 0
    for path in directory.glob(PARTIAL_GLOB):
        with contextlib.suppress(OSError):  # gone meanwhile, or not ours to open
            if path.stat().st_mtime <= cutoff and _remove_if_unlocked(path):
                removed += 1
    return removed


def _remove_if_unlocked(path: Path) -> bool:
    assert fcntl is not None
    with open(path, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # its writer is alive
        path.unlink()
        return True


def sign_capability(secret: bytes, public_id: str, expires: datetime) -> str:
    payload = f"{public_id}.{int(expires.timestamp())}"
    return f"{payload}.{_mac(secret, payload)}"


def verify_capability(secret: bytes, token: str, now: datetime) -> str | None:
    """The upload's public id if `token` is ours and unexpired; None otherwise."""
    public_id, _, rest = token.partition(".")
    expires, _, mac = rest.partition(".")
    if not (public_id and parse_digits(expires) is not None and mac):
        return None
    if not hmac.compare_digest(mac, _mac(secret, f"{public_id}.{expires}")):
        return None
    if int(expires) <= now.timestamp():
        return None
    return public_id


def _mac(secret: bytes, payload: str) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signing_secret(settings: Settings) -> bytes:
    """HEEDFUL_CATALOG_SIGNING_SECRET, or a random one persisted beside the uploads (so
    URLs handed out survive a restart, and every process sharing the folder agrees)."""
    if settings.catalog_signing_secret is not None:
        value = settings.catalog_signing_secret.get_secret_value()
        if value:
            return value.encode()
    directory = Path(settings.catalog_upload_dir)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / ".signing-secret"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(secrets.token_urlsafe(32).encode())
    return path.read_bytes().strip()


# --- s3 -------------------------------------------------------------------------------------


class S3Store:
    backend = "s3"

    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.catalog_s3_bucket
        self.prefix = settings.catalog_s3_prefix
        self.endpoint_url = settings.catalog_s3_endpoint_url
        self.region = settings.catalog_s3_region
        self.ttl = max(1, int(settings.catalog_upload_ttl))

    def location_for(self, public_id: str) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": f"{self.prefix}{public_id}.ndjson",
            "endpoint_url": self.endpoint_url,
            "region": self.region,
        }

    def upload_url(
        self, public_id: str, location: dict[str, Any], expires: datetime, base_url: str
    ) -> str:
        url: str = s3_client(location).generate_presigned_url(
            "put_object",
            Params={"Bucket": location["bucket"], "Key": location["key"]},
            ExpiresIn=self.ttl,
        )
        return url


def s3_client(location: dict[str, Any]) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=location.get("endpoint_url") or None,
        region_name=location.get("region") or None,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def s3_object(location: dict[str, Any]) -> dict[str, Any] | None:
    """`{"size", "etag"}` of the uploaded object, or None while it is not there."""
    from botocore.exceptions import ClientError

    try:
        head = s3_client(location).head_object(Bucket=location["bucket"], Key=location["key"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return {"size": int(head["ContentLength"]), "etag": str(head["ETag"])}


# --- both -----------------------------------------------------------------------------------


def build_store(settings: Settings) -> UploadStore:
    if settings.catalog_storage == "s3":
        return S3Store(settings)
    return LocalStore(Path(settings.catalog_upload_dir), signing_secret(settings))


class _RawStream(io.RawIOBase):
    """Adapts anything with `read(n)` (boto's StreamingBody) to a buffered binary file."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@contextmanager
def open_file(backend: str, location: dict[str, Any], offset: int) -> Iterator[IO[bytes]]:
    """The uploaded file from byte `offset` on, buffered."""
    if backend == "local":
        with open(location["path"], "rb", buffering=READ_BUFFER) as handle:
            handle.seek(offset)
            yield handle
        return
    params: dict[str, Any] = {"Bucket": location["bucket"], "Key": location["key"]}
    if location.get("etag"):
        params["IfMatch"] = location["etag"]  # the object we validated, not a later overwrite
    if offset:
        params["Range"] = f"bytes={offset}-"
    body = s3_client(location).get_object(**params)["Body"]
    try:
        yield io.BufferedReader(_RawStream(body), READ_BUFFER)
    finally:
        body.close()


def remove_file(backend: str, location: dict[str, Any]) -> None:
    """Remove an upload's file once it is done with; for the local backend, also any partial
    file left in its folder by a process that died while receiving one."""
    if backend == "local":
        path = Path(location["path"])
        path.unlink(missing_ok=True)
        sweep_partials(path.parent)
        return
    s3_client(location).delete_object(Bucket=location["bucket"], Key=location["key"])
