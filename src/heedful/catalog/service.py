"""Catalog use cases: start an upload, accept its file, process it chunk by chunk.

Processing is a chain of jobs, one chunk of lines each (HEEDFUL_CATALOG_CHUNK_LINES). A chunk
reads from the upload's checkpoint (byte offset, line number), does its work and moves the
checkpoint in the same transaction, then enqueues the next chunk. So progress is visible while
polling and no transaction stays open for long (SQLite has one writer).

Two passes over the file, each decoding a line once:
- `validate` (status `validating`): every line checked, by a pool of worker processes for
  big files. The ids seen so far (for duplicates across the file) live in the worker's
  memory, not the database; a chunk that fails, or a worker that is lost, makes the next
  chunk start the validation over from line 1 (it has written nothing but counters). At
  the end the rejected lines' numbers are stored on the upload.
- `ingest` (status `validated`): the lines not rejected become rows (built in the pool,
  written here with one executemany per block) upserted by id, so a chunk retried after a
  crash rewrites the same rows and never duplicates; then `completed`.
"""

from __future__ import annotations

import bisect
import logging
import os
import secrets
import socket
import threading
import uuid
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO, Any

import msgspec
from sqlalchemy.orm import Session

from heedful.catalog import repository, validator
from heedful.catalog.files import UploadStore, open_file
from heedful.catalog.parallel import MIN_PARALLEL_BATCHES, default_workers, ordered_map
from heedful.catalog.rows import RowContext, block_rows
from heedful.catalog.validator import (
    MAX_FILE_BYTES,
    MAX_LINE_BYTES,
    MAX_LINES,
    NO_LIMIT,
    Block,
    ErrorTally,
    ErrorType,
    FileReport,
    HashKeyChanged,
    ProductLimit,
    SeenIds,
    check_block,
    file_too_large,
    finish,
    read_blocks,
    take_lines,
)
from heedful.core.clock import Clock
from heedful.errors import Conflict, NotFound
from heedful.jobs.queue import enqueue
from heedful.jobs.registry import RetryLater
from heedful.storage.models.catalog import CatalogProduct, CatalogUpload, CatalogVariant

log = logging.getLogger("heedful.catalog")

PROCESS_JOB = "catalog.process"
AWAIT_OBJECT_JOB = "catalog.await_object"
CLEANUP_JOB = "catalog.cleanup"

INITIALIZED, VALIDATING = "initialized", "validating"
VALIDATED, COMPLETED = "validated", "completed"


@dataclass(frozen=True)
class Processing:
    """How the worker processes files; set by the API process when it enqueues."""

    chunk_lines: int = 10_000
    max_lines: int = MAX_LINES
    s3_poll_interval: float = 2.0
    # The local URL refuses a bigger body with 413; an S3 object is checked when it appears.
    max_upload_bytes: int = MAX_FILE_BYTES

    def payload(self, upload_id: int) -> dict[str, Any]:
        return {
            "upload_id": upload_id,
            "chunk_lines": self.chunk_lines,
            "max_lines": self.max_lines,
            "s3_poll_interval": self.s3_poll_interval,
            "max_upload_bytes": self.max_upload_bytes,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Processing:
        return cls(
            int(payload.get("chunk_lines", 10_000)),
            int(payload.get("max_lines", MAX_LINES)),
            float(payload.get("s3_poll_interval", 2.0)),
            int(payload.get("max_upload_bytes", MAX_FILE_BYTES)),
        )


# --- the public operations -------------------------------------------------------------------


def start_upload(
    session: Session,
    clock: Clock,
    company_id: int,
    validate_only: bool,
    *,
    store: UploadStore,
    base_url: str,
    ttl: timedelta,
    processing: Processing,
) -> CatalogUpload:
    now = clock.now()
    public_id = str(uuid.uuid4())
    location = store.location_for(public_id)
    expires = now + ttl
    upload = repository.add_upload(
        session,
        CatalogUpload(
            company_id=company_id,
            public_id=public_id,
            status=INITIALIZED,
            validate_only=validate_only,
            backend=store.backend,
            location=location,
            upload_url=store.upload_url(public_id, location, expires, base_url),
            expires_at=expires,
            phase="validate",
            offset=0,
            line_num=0,
            products_received=0,
            products_processed=0,
            products_saved=0,
            errors={},
            created_at=now,
            updated_at=now,
        ),
    )
    if store.backend == "s3":
        # S3 tells us nothing when the PUT lands: watch for the object instead.
        enqueue(
            session, clock, AWAIT_OBJECT_JOB, processing.payload(upload.id), company_id=company_id
        )
    return upload


def list_uploads(session: Session, company_id: int) -> Sequence[CatalogUpload]:
    return repository.uploads(session, company_id)


def get_upload(session: Session, company_id: int, public_id: str) -> CatalogUpload:
    upload = repository.upload_by_public_id(session, company_id, public_id)
    if upload is None:
        raise NotFound()
    return upload


def receivable_upload(session: Session, public_id: str) -> CatalogUpload:
    """The upload a signed URL names, if its file can still be sent."""
    upload = repository.upload_for_capability(session, public_id)
    if upload is None:
        raise NotFound()
    if upload.status != INITIALIZED:
        raise Conflict("Conflict: this upload's file was already received and is processed")
    return upload


def accept_file(
    session: Session,
    clock: Clock,
    upload: CatalogUpload,
    size: int,
    processing: Processing,
    place_file: Callable[[], None],
    location: dict[str, Any] | None = None,
) -> None:
    """The file is complete: start processing (exactly once per upload)."""
    now = clock.now()
    values: dict[str, Any] = {
        "status": VALIDATING,
        "received_at": now,
        "size_bytes": size,
        "updated_at": now,
    }
    if location is not None:
        values["location"] = location
    if not repository.claim_for_processing(session, upload.company_id, upload.id, values):
        raise Conflict("Conflict: this upload's file was already received and is processed")
    place_file()
    enqueue(
        session, clock, PROCESS_JOB, processing.payload(upload.id), company_id=upload.company_id
    )


# --- processing ------------------------------------------------------------------------------

# A file at least this big is checked and turned into rows by the worker-process pool; a
# smaller one in this process. Decided per upload, never per chunk: ids are hashed where
# they are decoded, and a file's ids must all be hashed alike (see validator._PROBE).
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
BLOCK_BYTES = validator.BLOCK_BYTES
# How long a validation held in another process's memory may go without progress before
# this process presumes that worker dead and starts the validation over.
TAKEOVER_AFTER = timedelta(minutes=2)
_THIS_PROCESS = f"{socket.gethostname()[:100]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class _Validation:
    """An upload's validation so far, in this process's memory: the ids seen (to find
    repeats across the file) and the lines rejected. `offset` is the checkpoint it matches:
    if the stored checkpoint differs (a chunk rolled back), this state is not to be used."""

    offset: int
    parallel: bool
    touched: datetime  # when a chunk last used it: an idle state may make room for another
    seen: SeenIds = field(default_factory=SeenIds)
    rejected: array[int] = field(default_factory=lambda: array("q"))


_validations: dict[int, _Validation] = {}
_validations_lock = threading.Lock()
# At most this many validations in one process's memory (each up to ~40 MB). Another
# upload waits for a slot: evicting a state in use would restart that validation, and with
# one upload more than slots, round-robin chunks would restart every upload forever. A
# state idle for TAKEOVER_AFTER is abandoned (its upload went to another process) and goes.
_MAX_VALIDATIONS = 8


def process_chunk(
    session: Session, clock: Clock, company_id: int, upload_id: int, processing: Processing
) -> None:
    upload = repository.lock_upload(session, company_id, upload_id)
    if upload is None or upload.status not in (VALIDATING, VALIDATED) or upload.phase == "done":
        return  # already finished (a retried or duplicate job): nothing to do
    if upload.phase == "validate":
        state = _validation_for(upload, clock)
        if state is None:  # another live worker holds it, or no slot here yet: wait
            _enqueue_next(session, clock, upload, processing, delay=timedelta(seconds=1))
            return
        _validate_chunk(upload, state, clock, processing)
    else:
        _ingest_chunk(session, clock, upload, processing)
    upload.updated_at = clock.now()
    if upload.phase == "done":
        _cleanup_after_done(session, clock, upload)
    else:
        _enqueue_next(session, clock, upload, processing)


def _enqueue_next(
    session: Session,
    clock: Clock,
    upload: CatalogUpload,
    processing: Processing,
    delay: timedelta = timedelta(0),
) -> None:
    enqueue(
        session,
        clock,
        PROCESS_JOB,
        processing.payload(upload.id),
        company_id=upload.company_id,
        delay=delay,
    )


def _validation_for(upload: CatalogUpload, clock: Clock) -> _Validation | None:
    """This process's state for the upload, or a fresh start (from line 1) when it has none
    that matches the checkpoint; None while another live process holds the state."""
    with _validations_lock:
        state = _validations.get(upload.id)
    now = clock.now()
    if state is not None and state.offset == upload.offset:
        state.touched = now
        return state
    mid_file = upload.offset > 0 and upload.processed_by not in (None, _THIS_PROCESS)
    if mid_file and now - upload.updated_at < TAKEOVER_AFTER:
        return None
    return _restart_validation(upload, now)


def _restart_validation(upload: CatalogUpload, now: datetime) -> _Validation | None:
    """A fresh state from line 1, or None while every slot holds a validation in use."""
    state = _Validation(0, (upload.size_bytes or 0) >= PARALLEL_MIN_BYTES, now)
    with _validations_lock:
        if upload.id not in _validations and not _make_room(now):
            return None
        _validations[upload.id] = state
    upload.offset, upload.line_num = 0, 0
    upload.products_received = upload.products_processed = 0
    upload.errors, upload.rejected_lines = {}, None
    upload.processed_by = _THIS_PROCESS
    return state


def _make_room(now: datetime) -> bool:
    """Drop idle states if need be; whether a slot is free (call with the lock held)."""
    if len(_validations) >= _MAX_VALIDATIONS:
        for upload_id, state in list(_validations.items()):
            if now - state.touched >= TAKEOVER_AFTER:
                del _validations[upload_id]
    return len(_validations) < _MAX_VALIDATIONS


def _forget_validation(upload_id: int) -> None:
    with _validations_lock:
        _validations.pop(upload_id, None)


def _workers(parallel: bool) -> int:
    return default_workers() if parallel else 0


@dataclass
class _Reach:
    """How far a chunk read: its last line and the byte offset after it."""

    line: int
    offset: int
    lines: int = 0


def _chunk_blocks(
    upload: CatalogUpload, stream: IO[bytes], processing: Processing, reach: _Reach
) -> Iterator[Block]:
    blocks = read_blocks(
        stream,
        start_offset=upload.offset,
        start_line=upload.line_num,
        block_bytes=BLOCK_BYTES,
        path=validator.file_path(stream, upload.offset),
    )
    for block in take_lines(blocks, processing.chunk_lines):
        reach.line, reach.offset = block.first_line + block.lines - 1, block.end
        reach.lines += block.lines
        yield block


def _validate_chunk(
    upload: CatalogUpload, state: _Validation, clock: Clock, processing: Processing
) -> None:
    """Check the chunk's lines (in the pool for big files); record ids and rejected lines."""
    report = FileReport(
        upload.products_received, upload.products_processed, ErrorTally.from_state(upload.errors)
    )
    reach = _Reach(upload.line_num, upload.offset)
    past_limit = False
    now, workers = clock.now(), _workers(state.parallel)
    limit = ProductLimit(processing.max_lines, workers)
    state.offset = -1  # in use: if this chunk fails half-way, the state matches no checkpoint
    try:
        with open_file(upload.backend, upload.location, upload.offset) as stream:
            results = ordered_map(
                check_block,
                limit.watch(_chunk_blocks(upload, stream, processing, reach)),
                now,
                MAX_LINE_BYTES,
                workers=workers,
                min_items=1 if state.parallel else MIN_PARALLEL_BATCHES,
            )
            for result in results:
                result = limit.admit(report, state.seen, result, now, MAX_LINE_BYTES)
                state.rejected.extend(result.rejected)
                if result.past_limit:
                    past_limit = True
                    results.close()
                    break
    except HashKeyChanged:
        _forget_validation(upload.id)  # the retry starts this upload's validation over
        raise
    finished = past_limit or reach.lines < processing.chunk_lines
    if finished:
        state.rejected.extend(finish(report, state.seen))
        upload.rejected_lines = array("q", sorted(set(state.rejected))).tobytes()
        _forget_validation(upload.id)
    upload.offset, upload.line_num = reach.offset, reach.line
    state.offset = upload.offset
    upload.products_received = report.products_received
    upload.products_processed = report.products_valid
    upload.errors = report.tally.to_state()
    if finished:
        _finish_validation(upload)


def _finish_validation(upload: CatalogUpload) -> None:
    if upload.validate_only:
        upload.status = VALIDATED
        _done(upload)
        return
    upload.status, upload.phase, upload.offset, upload.line_num = VALIDATED, "ingest", 0, 0
    upload.processed_by = None


def _ingest_chunk(
    session: Session, clock: Clock, upload: CatalogUpload, processing: Processing
) -> None:
    """Upsert the chunk's lines that passed validation, as rows built in the pool (for big
    files) while this process writes the ones already built."""
    rejected = array("q")
    rejected.frombytes(upload.rejected_lines or b"")
    last_line = _last_line_read(upload)
    context = RowContext(
        upload.company_id, upload.id, clock.now(), session.connection().dialect.name, last_line
    )
    parallel = (upload.size_bytes or 0) >= PARALLEL_MIN_BYTES
    reach = _Reach(upload.line_num, upload.offset)
    with open_file(upload.backend, upload.location, upload.offset) as stream:
        blocks = _chunk_blocks(upload, stream, processing, reach)
        work = ((block, _rejected_in(rejected, block)) for block in blocks)
        for rows in ordered_map(
            block_rows,
            work,
            context,
            workers=_workers(parallel),
            min_items=1 if parallel else MIN_PARALLEL_BATCHES,
        ):
            repository.upsert_products(session, rows.products)
            repository.upsert_variants(session, rows.variants)
            upload.products_saved += len(rows.products)
    upload.offset, upload.line_num = reach.offset, reach.line
    if reach.lines < processing.chunk_lines or reach.line >= last_line:
        upload.status = COMPLETED
        _done(upload)


def _last_line_read(upload: CatalogUpload) -> int:
    """The last line validation read: every line, unless it stopped at the product limit,
    whose TOO_MANY_LINES error (reported once, so always kept) names the first line it did
    not read. The limit counts products, not lines, so no line number can stand for it."""
    for error in (upload.errors or {}).get("errors", []):
        if error["errorType"] == ErrorType.TOO_MANY_LINES:
            return int(error["lineNum"]) - 1
    return NO_LIMIT


def _rejected_in(rejected: array[int], block: Block) -> frozenset[int]:
    """The rejected line numbers within the block (`rejected` is sorted)."""
    low = bisect.bisect_left(rejected, block.first_line)
    high = bisect.bisect_left(rejected, block.first_line + block.lines)
    return frozenset(rejected[low:high])


def _done(upload: CatalogUpload) -> None:
    upload.phase = "done"
    upload.rejected_lines, upload.processed_by = None, None


def _cleanup_after_done(session: Session, clock: Clock, upload: CatalogUpload) -> None:
    # The file goes only after this commits: a cleanup job, not a delete inside the chunk.
    enqueue(
        session,
        clock,
        CLEANUP_JOB,
        {"upload_id": upload.id, "backend": upload.backend, "location": upload.location},
        company_id=upload.company_id,
    )


def processing_failed(
    session: Session, clock: Clock, company_id: int, upload_id: int, job_error: str
) -> None:
    """Every attempt at a chunk failed (its job is dead-lettered): end the upload as a processed
    file ends, with one PROCESSING_FAILED error giving the reason, rather than leave it
    `validating` for ever. What was saved stays; the file goes."""
    upload = repository.lock_upload(session, company_id, upload_id)
    if upload is None or upload.status not in (VALIDATING, VALIDATED) or upload.phase == "done":
        return
    _forget_validation(upload.id)
    tally = ErrorTally.from_state(upload.errors)
    tally.add(validator.processing_failed(_failure_reason(job_error)))
    upload.status = VALIDATED if upload.validate_only else COMPLETED
    upload.errors, upload.updated_at = tally.to_state(), clock.now()
    _done(upload)
    _cleanup_after_done(session, clock, upload)


def _failure_reason(job_error: str) -> str:
    """What the API may say about a job's error: not the message itself, which can name
    server paths and internals (the jobs table keeps it for the operator)."""
    if job_error.startswith("FileNotFoundError") or "(NoSuchKey)" in job_error:
        return "the uploaded file is no longer in storage"
    if "(PreconditionFailed)" in job_error:
        return "the uploaded file was replaced in storage while it was processed"
    return "every attempt to process the file failed on the server"


# --- the S3 backend: wait for the object -----------------------------------------------------


# S3 checks a pre-signed URL when a PUT starts, not when it ends: a file sent just before the
# URL expired can land well after (2 GB at 1 MB/s is half an hour), its sender holding S3's 200.
# So the watcher keeps looking this long past the expiry, less often.
LATE_PUT_GRACE = timedelta(hours=1)
LATE_PUT_POLL = timedelta(seconds=30)


def await_object(
    session: Session,
    clock: Clock,
    company_id: int,
    upload_id: int,
    processing: Processing,
    probe: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> None:
    upload = repository.lock_upload(session, company_id, upload_id)
    if upload is None or upload.status != INITIALIZED:
        return
    found = _probe_or_retry_later(probe, upload, clock.now())
    if found is not None:
        location = {**upload.location, "etag": found["etag"]}
        if found["size"] > processing.max_upload_bytes:
            _refuse_file(session, clock, upload, found["size"], processing, location)
            return
        accept_file(session, clock, upload, found["size"], processing, lambda: None, location)
        return
    now, poll = clock.now(), timedelta(seconds=processing.s3_poll_interval)
    if now >= upload.expires_at + LATE_PUT_GRACE:
        return  # the URL expired unused: the upload stays `initialized`, as at the vendor
    if now >= upload.expires_at:
        poll = max(poll, LATE_PUT_POLL)
    enqueue(
        session,
        clock,
        AWAIT_OBJECT_JOB,
        processing.payload(upload.id),
        company_id=company_id,
        delay=poll,
    )


def _probe_or_retry_later(
    probe: Callable[[dict[str, Any]], dict[str, Any] | None], upload: CatalogUpload, now: datetime
) -> dict[str, Any] | None:
    """A storage that cannot be reached (network, credentials, an outage) is no answer: while
    a PUT may still land, the watcher asks again later without spending its attempts, however
    long the outage lasts; past that, the failure dead-letters the job as any other."""
    try:
        return probe(upload.location)
    except Exception as exc:
        if now >= upload.expires_at + LATE_PUT_GRACE:
            raise
        log.warning(
            "catalog storage unreachable; will look again",
            extra={"upload_id": upload.public_id, "error": f"{type(exc).__name__}: {exc}"},
        )
        raise RetryLater(f"storage check failed: {exc}", delay=LATE_PUT_POLL) from exc


def _refuse_file(
    session: Session,
    clock: Clock,
    upload: CatalogUpload,
    size: int,
    processing: Processing,
    location: dict[str, Any],
) -> None:
    """An object over the size limit (a pre-signed PUT cannot cap it, as the local URL's 413
    does): none of it is read. The upload ends as any processed file does (`validated` when
    validate-only, else `completed`) with one FILE_TOO_LARGE error, and the object goes."""
    now = clock.now()
    tally = ErrorTally()
    tally.add(file_too_large(size, processing.max_upload_bytes))
    upload.status = VALIDATED if upload.validate_only else COMPLETED
    upload.received_at, upload.size_bytes, upload.location = now, size, location
    upload.errors, upload.updated_at = tally.to_state(), now
    _done(upload)
    _cleanup_after_done(session, clock, upload)


# --- admin inspection ------------------------------------------------------------------------


def products_page(
    session: Session, company_id: int, after: int, limit: int
) -> tuple[list[dict[str, Any]], int | None]:
    products = repository.products_page(session, company_id, after, limit + 1)
    more = len(products) > limit
    products = products[:limit]
    views = _product_views(session, company_id, products)
    return views, (products[-1].id if more and products else None)


def product_detail(session: Session, company_id: int, product_id: str) -> dict[str, Any]:
    product = repository.product(session, company_id, product_id)
    if product is None:
        raise NotFound()
    return _product_views(session, company_id, [product])[0]


def _product_views(
    session: Session, company_id: int, products: Sequence[CatalogProduct]
) -> list[dict[str, Any]]:
    variants: dict[str, list[CatalogVariant]] = {}
    for variant in repository.variants_of(session, company_id, [p.product_id for p in products]):
        variants.setdefault(variant.product_id, []).append(variant)
    views = []
    for product in products:
        view = msgspec.json.decode(product.data)
        view["variants"] = [
            msgspec.json.decode(v.data) for v in variants.get(product.product_id, [])
        ]
        views.append(view)
    return views
