"""HTTP routes of the catalog area: the three /v1 operations and the local upload URL."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from heedful.catalog import service
from heedful.catalog.files import build_store, open_partial, signing_secret, verify_capability
from heedful.catalog.schemas import (
    CatalogUploadErrorResponse,
    CatalogUploadRequest,
    CatalogUploadResponse,
)
from heedful.config import Settings
from heedful.core.numbers import parse_digits
from heedful.errors import Forbidden, InvalidRequest, PayloadTooLarge
from heedful.http.operation import (
    ApiRequest,
    decode_json,
    operation,
    receive_within,
    refuse_content_coding,
)
from heedful.http.responses import json_response
from heedful.http.routing import COLLECTION_METHODS, SharedPathRoute
from heedful.runtime import Runtime
from heedful.storage.models.catalog import CatalogUpload

WRITE_BUFFER = 1024 * 1024


def timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def upload_view(upload: CatalogUpload) -> CatalogUploadResponse:
    errors = (upload.errors or {}).get("errors", [])
    return CatalogUploadResponse(
        uploadId=upload.public_id,
        status=upload.status,
        errors=[CatalogUploadErrorResponse(**error) for error in errors],
        productsReceived=upload.products_received,
        productsProcessed=upload.products_processed,
        lastUpdated=timestamp(upload.updated_at),
        expires=timestamp(upload.expires_at),
        uploadUrl=upload.upload_url,
        validateOnly=upload.validate_only,
    )


def processing(settings: Settings) -> service.Processing:
    return service.Processing(
        chunk_lines=settings.catalog_chunk_lines,
        s3_poll_interval=settings.catalog_s3_poll_interval,
        max_upload_bytes=settings.catalog_max_upload_bytes,
    )


@operation("postUpload")
async def post_upload(request: ApiRequest) -> Response:
    """Start a catalog upload: an upload id and a URL to PUT the NDJSON file to."""
    body = await request.body()
    wanted = decode_json(body, CatalogUploadRequest) if body else CatalogUploadRequest()
    settings = request.runtime.settings
    url = request.request.url
    upload = await request.call(
        service.start_upload,
        request.runtime.clock,
        request.auth.company_id,
        wanted.validateOnly,
        store=await anyio.to_thread.run_sync(build_store, settings),
        base_url=settings.base_url or f"{url.scheme}://{url.netloc}",
        ttl=timedelta(seconds=settings.catalog_upload_ttl),
        processing=processing(settings),
    )
    return json_response(upload_view(upload))


@operation("getUploads")
async def get_uploads(request: ApiRequest) -> Response:
    """The company's uploads, in creation order."""
    uploads = await request.read(service.list_uploads, request.auth.company_id)
    return json_response([upload_view(upload) for upload in uploads])


@operation("lookupUpload")
async def lookup_upload(request: ApiRequest) -> Response:
    """One upload's status, counts and errors."""
    upload = await request.read(
        service.get_upload, request.auth.company_id, str(request.path_params["uploadId"])
    )
    return json_response(upload_view(upload))


routes = [
    SharedPathRoute(
        "/product-catalog/uploads", post_upload, method="POST", allow=COLLECTION_METHODS
    ),
    SharedPathRoute(
        "/product-catalog/uploads", get_uploads, method="GET", allow=COLLECTION_METHODS
    ),
    Route("/product-catalog/uploads/{uploadId}", lookup_upload, methods=["GET"]),
]


# --- PUT /uploads/{token}: the local backend's pre-signed URL --------------------------------


async def receive_file(request: Request) -> Response:
    """Store an upload's file, streamed to disk; the signed token in the URL is the credential."""
    request.state.operation_id = "catalog.receiveFile"
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    secret = await anyio.to_thread.run_sync(signing_secret, settings)
    public_id = verify_capability(secret, request.path_params["token"], runtime.clock.now())
    if public_id is None:
        raise Forbidden("Forbidden: the upload URL is not valid or has expired")
    upload = await runtime.run(service.receivable_upload, public_id)
    if upload.backend != "local":
        raise Forbidden("Forbidden: this upload takes its file at its S3 URL")
    refuse_content_coding(request.headers.getlist("content-encoding"))
    limit = settings.catalog_max_upload_bytes
    declared = parse_digits(request.headers.get("content-length", ""), 30)
    if declared is not None and declared > limit:
        raise PayloadTooLarge(f"Payload too large: a catalog file is at most {limit} bytes")
    final = Path(upload.location["path"])
    temp, handle = await anyio.to_thread.run_sync(open_partial, final)
    try:
        size = await _stream_to_disk(request, handle, settings)
        await runtime.run(
            service.accept_file,
            runtime.clock,
            upload,
            size,
            processing(settings),
            lambda: os.replace(temp, final),
        )
    finally:
        # Closed (and so unlocked) only once renamed: until then a sweep must not take it.
        await anyio.to_thread.run_sync(handle.close)
        temp.unlink(missing_ok=True)
    return Response(status_code=200)


async def _stream_to_disk(request: Request, handle: IO[bytes], settings: Settings) -> int:
    """Write the body chunk by chunk (1 MB at a time, off the event loop), fsync, return its
    size. Never holds the file in memory; stops at the size limit. A pause of the client's
    longer than the body timeout is a 408 (a large file may take long in all)."""
    limit = settings.catalog_max_upload_bytes
    size, pending = 0, bytearray()
    while True:
        message = await receive_within(request.receive, settings.body_timeout_seconds)
        if message["type"] == "http.disconnect":
            raise InvalidRequest("The upload was interrupted before the file was complete")
        piece: bytes = message.get("body", b"")
        size += len(piece)
        if size > limit:
            raise PayloadTooLarge(f"Payload too large: a catalog file is at most {limit} bytes")
        pending += piece
        if not message.get("more_body", False):
            break
        if len(pending) >= WRITE_BUFFER:
            data = bytes(pending)
            pending.clear()
            await anyio.to_thread.run_sync(handle.write, data)
    await anyio.to_thread.run_sync(_finish, handle, bytes(pending))
    return size


def _finish(handle: IO[bytes], data: bytes) -> None:
    handle.write(data)
    handle.flush()
    os.fsync(handle.fileno())


upload_routes = [Route("/uploads/{token}", receive_file, methods=["PUT"])]
