"""Catalog use cases: start an upload, accept its file, process it chunk by chunk.

Processing is a chain of jobs, one chunk of lines each (HEEDFUL_CATALOG_CHUNK_LINES). A chunk
reads from the upload's checkpoint (byte offset, line number), does its work and moves the
checkpoint in the same transaction, then enqueues the next chunk. So progress is visible while
polling, no transaction stays open for long (SQLite has one writer), and a crash rolls back
only the chunk it interrupted: the retry starts from the last checkpoint and never
duplicates data.

Two passes: `validate` (status `validating`: every line checked, ids across the file
recorded, counts growing) then, unless validate-only, `ingest` (status `validated`: valid
lines upserted by id) and `completed`.
"""

from __future__ import annotations

import hashlib
import itertools
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy.orm import Session

from heedful.catalog import repository
from heedful.catalog.files import UploadStore, open_file
from heedful.catalog.validator import (
    MAX_LINES,
    CatalogError,
    ErrorTally,
    Line,
    Product,
    check_line,
    duplicate,
    oversized,
    read_lines,
    too_many_lines,
)
from heedful.core.clock import Clock
from heedful.errors import Conflict, NotFound
from heedful.jobs.queue import enqueue
from heedful.storage.models.catalog import CatalogProduct, CatalogUpload, CatalogVariant

PROCESS_JOB = "catalog.process"
AWAIT_OBJECT_JOB = "catalog.await_object"
CLEANUP_JOB = "catalog.cleanup"

INITIALIZED, VALIDATING = "initialized", "validating"
VALIDATED, COMPLETED = "validated", "completed"

_encoder = msgspec.json.Encoder()


@dataclass(frozen=True)
class Processing:
    """How the worker processes files; set by the API process when it enqueues."""

    chunk_lines: int = 2_000
    max_lines: int = MAX_LINES
    s3_poll_interval: float = 2.0

    def payload(self, upload_id: int) -> dict[str, Any]:
        return {
            "upload_id": upload_id,
            "chunk_lines": self.chunk_lines,
            "max_lines": self.max_lines,
            "s3_poll_interval": self.s3_poll_interval,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Processing:
        return cls(
            int(payload.get("chunk_lines", 2_000)),
            int(payload.get("max_lines", MAX_LINES)),
            float(payload.get("s3_poll_interval", 2.0)),
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


def process_chunk(
    session: Session, clock: Clock, company_id: int, upload_id: int, processing: Processing
) -> None:
    upload = repository.lock_upload(session, company_id, upload_id)
    if upload is None or upload.status not in (VALIDATING, VALIDATED) or upload.phase == "done":
        return  # already finished (a retried or duplicate job): nothing to do
    tally = ErrorTally.from_state(upload.errors)
    with open_file(upload.backend, upload.location, upload.offset) as stream:
        lines = read_lines(stream, start_offset=upload.offset, start_line=upload.line_num)
        chunk = list(itertools.islice(lines, processing.chunk_lines))
    finished = len(chunk) < processing.chunk_lines
    if upload.phase == "validate":
        finished = _validate_chunk(session, clock, upload, chunk, tally, processing) or finished
    else:
        finished = _ingest_chunk(session, clock, upload, chunk, processing) or finished
    if chunk:
        upload.offset, upload.line_num = chunk[-1].end, chunk[-1].number
    upload.errors = tally.to_state()
    upload.updated_at = clock.now()
    if finished:
        _finish_phase(session, clock, upload)
    if upload.phase != "done":
        enqueue(session, clock, PROCESS_JOB, processing.payload(upload.id), company_id=company_id)


def _finish_phase(session: Session, clock: Clock, upload: CatalogUpload) -> None:
    if upload.phase == "validate" and not upload.validate_only:
        upload.status, upload.phase, upload.offset, upload.line_num = VALIDATED, "ingest", 0, 0
        return
    upload.status = VALIDATED if upload.phase == "validate" else COMPLETED
    upload.phase = "done"
    repository.drop_keys(session, upload.company_id, upload.id)
    # The file goes only after this commits: a cleanup job, not a delete inside the chunk.
    enqueue(
        session,
        clock,
        CLEANUP_JOB,
        {"upload_id": upload.id, "backend": upload.backend, "location": upload.location},
        company_id=upload.company_id,
    )


def _check(line: Line, now: datetime | None) -> Product | CatalogError:
    return oversized(line.number) if line.raw is None else check_line(line.raw, line.number, now)


def key_hash(kind: str, value: str) -> int:
    digest = hashlib.blake2b(f"{kind}\0{value}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _keys(product: Product) -> list[tuple[str, int]]:
    keys = [("product", key_hash("p", product.id))]
    keys.extend(("variant", key_hash("v", variant.id)) for variant in product.variants)
    return keys


def _validate_chunk(
    session: Session,
    clock: Clock,
    upload: CatalogUpload,
    chunk: list[Line],
    tally: ErrorTally,
    processing: Processing,
) -> bool:
    """Check each line; record ids; returns True when the line limit ended the file."""
    now = clock.now()
    valid: list[tuple[int, Product]] = []
    over_limit = False
    for line in chunk:
        if line.number > processing.max_lines:
            tally.add(too_many_lines(line.number, processing.max_lines))
            over_limit = True
            break
        upload.products_received += 1
        result = _check(line, now)
        if isinstance(result, CatalogError):
            tally.add(result)
        else:
            valid.append((line.number, result))
    upload.products_processed += _record_ids(session, upload, valid, tally)
    return over_limit


def _record_ids(
    session: Session, upload: CatalogUpload, valid: list[tuple[int, Product]], tally: ErrorTally
) -> int:
    """Ids across the file: the first line using an id owns it; later ones are duplicates.
    Returns how many lines passed."""
    keyed = [(number, _keys(product)) for number, product in valid]
    earlier = repository.known_keys(
        session, upload.company_id, upload.id, (h for _, keys in keyed for _, h in keys)
    )
    first: dict[int, int] = {}
    rows: dict[int, dict[str, Any]] = {}
    passed = 0
    for number, keys in keyed:
        clash: tuple[str, int] | None = None
        for kind, value in keys:
            owner = earlier[value][0] if value in earlier else first.get(value)
            if owner is None:
                first[value] = number
                rows[value] = _key_row(upload, value, number)
            elif owner != number and clash is None:
                clash = (kind, owner)
        if clash is None:
            passed += 1
            continue
        tally.add(duplicate(clash[0], clash[1], number))
        product_key = keys[0][1]
        if product_key in rows and rows[product_key]["line_num"] == number:
            rows[product_key]["rejected"] = True
    repository.add_keys(session, list(rows.values()))
    return passed


def _key_row(upload: CatalogUpload, value: int, number: int) -> dict[str, Any]:
    return {
        "upload_id": upload.id,
        "company_id": upload.company_id,
        "key_hash": value,
        "line_num": number,
        "rejected": False,
    }


def _ingest_chunk(
    session: Session,
    clock: Clock,
    upload: CatalogUpload,
    chunk: list[Line],
    processing: Processing,
) -> bool:
    """Upsert the chunk's lines that passed validation; True when past the line limit."""
    candidates: list[tuple[int, Product]] = []
    for line in chunk:
        if line.number > processing.max_lines:
            return True
        result = _check(line, None)  # expiry was judged once, while validating
        if not isinstance(result, CatalogError):
            candidates.append((line.number, result))
    owners = repository.known_keys(
        session,
        upload.company_id,
        upload.id,
        (key_hash("p", product.id) for _, product in candidates),
    )
    keep = [
        product
        for number, product in candidates
        if owners.get(key_hash("p", product.id)) == (number, False)
    ]
    now = clock.now()
    repository.upsert_products(session, [_product_row(upload, p, now) for p in keep])
    repository.upsert_variants(
        session, [_variant_row(upload, p, v, now) for p in keep for v in p.variants]
    )
    upload.products_saved += len(keep)
    return False


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _product_row(upload: CatalogUpload, product: Product, now: datetime) -> dict[str, Any]:
    return {
        "company_id": upload.company_id,
        "product_id": product.id,
        "name": product.name,
        "link": product.link,
        "last_updated": _utc(product.lastUpdated),
        "data": _encoder.encode(msgspec.structs.replace(product, variants=[])).decode(),
        "upload_id": upload.id,
        "updated_at": now,
    }


def _variant_row(
    upload: CatalogUpload, product: Product, variant: Any, now: datetime
) -> dict[str, Any]:
    return {
        "company_id": upload.company_id,
        "variant_id": variant.id,
        "product_id": product.id,
        "name": variant.name,
        "position": variant.position,
        "available_for_purchase": variant.availableForPurchase,
        "inventory_quantity": variant.inventoryQuantity,
        "data": _encoder.encode(variant).decode(),
        "updated_at": now,
    }


# --- the S3 backend: wait for the object -----------------------------------------------------


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
    found = probe(upload.location)
    if found is not None:
        location = {**upload.location, "etag": found["etag"]}
        accept_file(session, clock, upload, found["size"], processing, lambda: None, location)
        return
    if clock.now() >= upload.expires_at:
        return  # the URL expired unused: the upload stays `initialized`, as at the vendor
    enqueue(
        session,
        clock,
        AWAIT_OBJECT_JOB,
        processing.payload(upload.id),
        company_id=company_id,
        delay=timedelta(seconds=processing.s3_poll_interval),
    )


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
