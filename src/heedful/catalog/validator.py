"""The catalog file validator: NDJSON product lines checked in constant memory.

Pure: no web, no database. The server's processing job and `heedful catalog validate` both
use it. The shape rules (required fields, types, lengths, counts, timestamps, ranges) are
declared as msgspec `Meta` constraints, so a line is decoded and checked in C in one step.
The three string patterns (http(s) links, prices, currency codes) are not: msgspec calls
Python's `re` once per constrained string, which cost half the validator's time, so they
are checked after decoding, over many strings at once (`_patterns_hold`), and only a line
that fails is walked field by field to name the culprit. The cross-field rules (image
`variantIds`, ids unique within a line, a price's `expirationTime` in the future) run in
Python too.

`check_block` (what the worker processes run) applies the pattern and cross-field rules to 32
decoded lines at once, with a few C-level calls over all their strings and ids; only a group
in which something fails is checked line by line, as `check_line` does. The structs are not
tracked by the cyclic garbage collector (`gc=False`): decoded JSON cannot form a cycle.

A line reports one error: a shape error first (msgspec stops at the first in document
order), then a pattern error (links and image sources, then prices, then currency codes), then a
cross-field one.

Limits follow the vendor's current format documentation ("Spec B"), which only widened the
older spec's limits: every file valid under the old limits is valid here.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import os
import re
import sys
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Annotated, Any

import msgspec
from msgspec import Meta, Struct

from heedful.core import nul

MAX_FILE_BYTES = 2 * 1024**3
MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_LINES = 500_000  # products, i.e. lines not blank (see `ProductLimit`)
NO_LIMIT = sys.maxsize
MAX_ERRORS_PER_TYPE = 10
_BOM = b"\xef\xbb\xbf"
# Bytes a line may hold beyond the product without counting toward its limit: a first
# line's BOM and a `\r\n` ending's `\r`. The reader lets them through; `block_lines`
# checks the product's own length.
_LINE_SLACK = len(_BOM) + 1


class ErrorType:
    """The fixed `errorType` vocabulary (documented in docs/catalog.md)."""

    FILE_TOO_LARGE = "FILE_TOO_LARGE"
    PROCESSING_FAILED = "PROCESSING_FAILED"
    INVALID_ENCODING = "INVALID_ENCODING"
    LINE_TOO_LONG = "LINE_TOO_LONG"
    TOO_MANY_LINES = "TOO_MANY_LINES"
    INVALID_JSON = "INVALID_JSON"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    INVALID_TYPE = "INVALID_TYPE"
    VALUE_TOO_LONG = "VALUE_TOO_LONG"
    TOO_MANY_ITEMS = "TOO_MANY_ITEMS"
    TOO_FEW_ITEMS = "TOO_FEW_ITEMS"
    VALUE_OUT_OF_RANGE = "VALUE_OUT_OF_RANGE"
    INVALID_URL = "INVALID_URL"
    INVALID_TIMESTAMP = "INVALID_TIMESTAMP"
    INVALID_CURRENCY_CODE = "INVALID_CURRENCY_CODE"
    INVALID_PRICE = "INVALID_PRICE"
    DUPLICATE_ID = "DUPLICATE_ID"
    UNKNOWN_VARIANT_ID = "UNKNOWN_VARIANT_ID"


ERROR_TYPES: tuple[str, ...] = tuple(
    value for name, value in vars(ErrorType).items() if name.isupper()
)

# --- the format, declared -------------------------------------------------------------------

_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+[^\s]*$"
_PRICE_PATTERN = r"^[0-9]+(\.[0-9]+)?$"
_CURRENCY_PATTERN = r"^[A-Z]{3}$"

Id = Annotated[str, Meta(min_length=1, max_length=256)]
Name = Annotated[str, Meta(max_length=256)]
# Patterns are checked after decoding (see the module doc): only lengths are declared here.
Url = Annotated[str, Meta(max_length=2048)]
# Variant positions are stored in an INTEGER column, quantities in a BIGINT one: PostgreSQL
# refuses larger values (SQLite does not), which failed the ingest job.
Position = Annotated[int, Meta(ge=0, le=2**31 - 1)]
Int64 = Annotated[int, Meta(ge=-(2**63), le=2**63 - 1)]
Amount = Annotated[str, Meta(max_length=64)]
Categories = Annotated[list[Annotated[str, Meta(max_length=750)]], Meta(max_length=100)]
Tags = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=250)]
Collections = Annotated[list[Name], Meta(max_length=50)]


class Attribute(Struct, frozen=True, gc=False):
    name: Annotated[str, Meta(max_length=64)]
    value: Annotated[str, Meta(max_length=256)]


class Price(Struct, frozen=True, gc=False, omit_defaults=True):
    currencyCode: str
    amount: Amount
    compareAtPrice: Amount | None = None
    activeTime: datetime | None = None
    expirationTime: datetime | None = None


class ProductOptionValue(Struct, frozen=True, gc=False):
    productOptionName: Name
    value: Name


class ProductOption(Struct, frozen=True, gc=False):
    name: Name
    position: Position
    values: Annotated[list[Name], Meta(max_length=200)]


class Image(Struct, frozen=True, gc=False, omit_defaults=True):
    src: Url
    alt: Annotated[str, Meta(max_length=512)] | None = None
    width: Annotated[int, Meta(ge=0)] | None = None
    height: Annotated[int, Meta(ge=0)] | None = None
    variantIds: Annotated[list[str], Meta(max_length=200)] | None = None
    # Absent means 0 (the vendor's default); None, not 0, so that null is accepted like any
    # optional field's and an explicit 0 is kept in the stored product (omit_defaults).
    position: Position | None = None


class Variant(Struct, frozen=True, gc=False, omit_defaults=True):
    id: Id
    name: Name
    link: Url
    lastUpdated: datetime
    availableForPurchase: bool
    prices: Annotated[list[Price], Meta(min_length=1, max_length=50)]
    position: Position | None = None
    inventoryQuantity: Int64 | None = None
    productOptionValues: Annotated[list[ProductOptionValue], Meta(max_length=25)] | None = None
    attributes: Annotated[list[Attribute], Meta(max_length=100)] | None = None


class Product(Struct, frozen=True, gc=False, omit_defaults=True):
    id: Id
    name: Name
    link: Url
    lastUpdated: datetime
    variants: Annotated[list[Variant], Meta(min_length=1, max_length=200)]
    description: Annotated[str, Meta(max_length=1024)] | None = None
    brand: Name | None = None
    categories: Categories | None = None
    tags: Tags | None = None
    collections: Collections | None = None
    productOptions: Annotated[list[ProductOption], Meta(max_length=25)] | None = None
    images: Annotated[list[Image], Meta(max_length=250)] | None = None
    attributes: Annotated[list[Attribute], Meta(max_length=100)] | None = None


_decoder = msgspec.json.Decoder(Product)

# --- errors ----------------------------------------------------------------------------------


class CatalogError(Struct, frozen=True, gc=False):
    """One reported problem, in the vendor's `CatalogUploadErrorResponse` shape."""

    errorType: str
    errorMessage: str
    lineNum: int


# msgspec's message -> our errorType. Order matters: the first match wins.
_CLASSIFIERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), error_type)
    for pattern, error_type in (
        (r"^Object missing required field", ErrorType.MISSING_REQUIRED_FIELD),
        (r"^Expected `str` of length <=", ErrorType.VALUE_TOO_LONG),
        (r"^Expected `str` of length >=", ErrorType.MISSING_REQUIRED_FIELD),
        (r"^Expected `array` of length <=", ErrorType.TOO_MANY_ITEMS),
        (r"^Expected `array` of length >=", ErrorType.TOO_FEW_ITEMS),
        (r"^Expected `int` [<>]=", ErrorType.VALUE_OUT_OF_RANGE),
        (r"^Invalid RFC3339", ErrorType.INVALID_TIMESTAMP),
        (r"^Expected `object`, got `\w+`$", ErrorType.INVALID_JSON),
    )
)


def _classify(exc: msgspec.ValidationError, line_num: int) -> CatalogError:
    text = str(exc)
    message, sep, path = text.rpartition(" - at ")
    if not sep:
        message, path = text, "$"
    where = path.strip("`").removeprefix("$").lstrip(".")
    error_type = ErrorType.INVALID_TYPE
    for pattern, kind in _CLASSIFIERS:
        if pattern.search(message):
            error_type = kind
            break
    if error_type == ErrorType.INVALID_JSON:
        if not where:
            return CatalogError(error_type, "line is not a JSON object", line_num)
        error_type = ErrorType.INVALID_TYPE  # a nested value (`variants[0]`), named below
    if message.startswith("Object missing required field"):
        missing = message.rsplit("`", 2)[-2]
        where = f"{where}.{missing}" if where else missing
        return CatalogError(error_type, f"missing required field `{where}`", line_num)
    return CatalogError(error_type, f"{message} (field `{where}`)", line_num)


# --- one line --------------------------------------------------------------------------------


def decode_product(raw: bytes) -> Product | None:
    """The line's product, shape-checked only: for lines a validation already passed."""
    try:
        return _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None


def check_line(raw: bytes, line_num: int, now: datetime | None = None) -> Product | CatalogError:
    """Decode and check one line (without its newline): the product, or its first error."""
    product = _decode(raw, line_num)
    if isinstance(product, CatalogError):
        return product
    error = _check_patterns(product, line_num) or _cross_check(product, line_num, now)
    return error or product


def _decode(raw: bytes, line_num: int, suspect: bool = True) -> Product | CatalogError:
    """`suspect`: whether `raw` may hold a NUL (False when its block surely holds none)."""
    try:
        product = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return _classify(exc, line_num)
    except msgspec.DecodeError as exc:
        return CatalogError(ErrorType.INVALID_JSON, f"invalid JSON: {exc}", line_num)
    except UnicodeDecodeError as exc:
        return CatalogError(ErrorType.INVALID_ENCODING, f"not UTF-8: {exc.reason}", line_num)
    except RecursionError:
        # Decoding recurses once per level of nesting, in ignored fields too: uncaught,
        # this failed the whole file's job on every retry.
        return _too_deep(line_num)
    if suspect and nul.maybe_in_json(raw):
        # PostgreSQL cannot store a NUL (SQLite can): the ingest job would fail on it.
        try:
            where = nul.path_in(msgspec.json.decode(raw))
        except RecursionError:
            return _too_deep(line_num)
        if where is not None:
            message = f"a NUL character (\\u0000) cannot be stored (field `{where}`)"
            return CatalogError(ErrorType.INVALID_ENCODING, message, line_num)
    return product


def _too_deep(line_num: int) -> CatalogError:
    return CatalogError(
        ErrorType.INVALID_JSON, "invalid JSON: nested too deeply (objects and arrays)", line_num
    )


# A pattern per kind: the field-by-field check that names the culprit. The fast checks
# (`_patterns_hold`) are at least as strict, so a value they refuse is looked at again with
# these. Matched with `fullmatch`: `$` alone also matches before a final newline.
_SINGLE = {
    ErrorType.INVALID_URL: re.compile(_URL_PATTERN),
    ErrorType.INVALID_PRICE: re.compile(_PRICE_PATTERN),
    ErrorType.INVALID_CURRENCY_CODE: re.compile(_CURRENCY_PATTERN),
}


def _check_patterns(product: Product, line_num: int) -> CatalogError | None:
    if _patterns_hold([product]):
        return None
    for kind in _SINGLE:  # links, then prices, then currency codes
        error = _first_mismatch(product, kind, line_num)
        if error is not None:
            return error
    return None


def _first_mismatch(product: Product, kind: str, line_num: int) -> CatalogError | None:
    """The first field (in document order) of `kind` that fails its pattern, if any."""
    pattern = _SINGLE[kind]
    for where, value in _pattern_fields(product, kind):
        if pattern.fullmatch(value) is None:
            return CatalogError(
                kind,
                f"Expected `str` matching regex {pattern.pattern!r} (field `{where}`)",
                line_num,
            )
    return None


def _pattern_fields(product: Product, kind: str) -> Iterator[tuple[str, str]]:
    if kind == ErrorType.INVALID_URL:
        yield "link", product.link
        for index, variant in enumerate(product.variants):
            yield f"variants[{index}].link", variant.link
        for index, image in enumerate(product.images or ()):
            yield f"images[{index}].src", image.src
        return
    for index, variant in enumerate(product.variants):
        for position, price in enumerate(variant.prices):
            where = f"variants[{index}].prices[{position}]"
            if kind == ErrorType.INVALID_CURRENCY_CODE:
                yield f"{where}.currencyCode", price.currencyCode
                continue
            yield f"{where}.amount", price.amount
            if price.compareAtPrice is not None:
                yield f"{where}.compareAtPrice", price.compareAtPrice


def _cross_check(product: Product, line_num: int, now: datetime | None) -> CatalogError | None:
    variant_ids = [variant.id for variant in product.variants]
    known = set(variant_ids)
    if len(known) != len(variant_ids):
        return _duplicate_variant(variant_ids, line_num)
    if now is not None:
        for index, variant in enumerate(product.variants):
            error = _check_expiry(variant, index, line_num, now)
            if error is not None:
                return error
    for index, image in enumerate(product.images or ()):
        if image.variantIds and not known.issuperset(image.variantIds):
            return _unknown_variant(image.variantIds, known, index, line_num)
    return None


def _duplicate_variant(variant_ids: list[str], line_num: int) -> CatalogError:
    index = next(i for i, value in enumerate(variant_ids) if value in variant_ids[:i])
    return CatalogError(
        ErrorType.DUPLICATE_ID,
        f"variant id {variant_ids[index]!r} appears twice in this product "
        f"(field `variants[{index}].id`)",
        line_num,
    )


def _unknown_variant(
    variant_ids: list[str], known: set[str], index: int, line_num: int
) -> CatalogError:
    position, variant_id = next((p, v) for p, v in enumerate(variant_ids) if v not in known)
    return CatalogError(
        ErrorType.UNKNOWN_VARIANT_ID,
        f"image names variant {variant_id!r}, which is not a variant of this "
        f"product (field `images[{index}].variantIds[{position}]`)",
        line_num,
    )


def _check_expiry(
    variant: Variant, index: int, line_num: int, now: datetime
) -> CatalogError | None:
    for position, price in enumerate(variant.prices):
        expires = price.expirationTime
        if expires is None:
            continue
        if expires.tzinfo is None:
            expires = expires.replace(tzinfo=UTC)
        if expires <= now:
            return CatalogError(
                ErrorType.INVALID_TIMESTAMP,
                "expirationTime must be in the future "
                f"(field `variants[{index}].prices[{position}].expirationTime`)",
                line_num,
            )
    return None


# --- reading lines, a block at a time ------------------------------------------------------

BLOCK_BYTES = 1024 * 1024  # ~400 typical lines: one trip to a worker process


@dataclass(frozen=True)
class Block:
    """Whole lines of a file (each ending in a newline, but perhaps the file's last), or one
    line over the size limit (`oversized`: its bytes were skipped, never held)."""

    first_line: int  # the number of the block's first line (1-based)
    data: bytes
    lines: int  # how many lines the block holds
    end: int  # byte offset just past the block
    oversized: bool = False
    path: str | None = None  # set when the bytes were left in this file (see `attached`)
    size: int = 0  # how many bytes were left there

    def attached(self) -> Block:
        """The block with its bytes, read from its file if they were left there: a worker
        process reading them from the page cache costs a fraction of the reader sending a
        megabyte through a pipe (pickled, written, read, unpickled). The file must not
        change: one cut short, or no longer ending the block with a newline, is caught
        (`FileChanged`); an edit that keeps both is not (counting the newlines again would
        cost ~5%)."""
        if self.path is None:
            return self
        with open(self.path, "rb") as handle:
            handle.seek(self.end - self.size)
            data = handle.read(self.size)
            cut = len(data) != self.size or (data[-1:] != b"\n" and handle.read(1) != b"")
        if cut:
            raise FileChanged(f"{self.path} changed while it was being read")
        return dataclasses.replace(self, data=data, path=None, size=0)


class FileChanged(RuntimeError):
    """A file's bytes were not where an earlier read found them."""


def read_blocks(
    stream: IO[bytes],
    *,
    start_offset: int = 0,
    start_line: int = 0,
    max_line_bytes: int = MAX_LINE_BYTES,
    block_bytes: int = BLOCK_BYTES,
    path: str | None = None,
) -> Iterator[Block]:
    """Blocks of a binary stream already positioned at `start_offset`, in constant memory.

    The reading process only finds newlines (in C); splitting and checking the lines is the
    business of whoever gets the block (see `check_block`), often another process. With
    `path` (the stream's file: see `file_path`) the blocks leave their bytes there."""
    buffer = bytearray(block_bytes)  # each piece is read into this one buffer
    view = memoryview(buffer)
    # The bytes of the block being cut, when they travel with it (None: left in the file).
    held: bytearray | None = None if path is not None else bytearray()
    offset, line = start_offset, start_line
    start, tail = offset, 0  # where the next block starts; bytes read since a newline
    while size := stream.readinto(buffer):  # type: ignore[attr-defined]
        offset += size
        last = buffer.rfind(b"\n", 0, size)
        if last < 0:
            tail += size
            if held is not None:
                held += view[:size]
            if tail > max_line_bytes + _LINE_SLACK:
                offset += _skip_rest(stream)
                line += 1
                yield Block(line, b"", 1, offset, oversized=True)
                start, tail = offset, 0
                if held is not None:
                    held.clear()
            continue
        count = buffer.count(b"\n", 0, last + 1)
        end = offset - size + last + 1
        if held is None:
            yield Block(line + 1, b"", count, end, path=path, size=end - start)
        else:
            held += view[: last + 1]
            yield Block(line + 1, bytes(held), count, end)
            held[:] = view[last + 1 : size]
        line += count
        start, tail = end, size - last - 1
    if tail:  # a last line with no newline
        if held is None:
            yield Block(line + 1, b"", 1, offset, path=path, size=tail)
        else:
            yield Block(line + 1, bytes(held), 1, offset)


def file_path(stream: IO[bytes], start: int = 0) -> str | None:
    """The path of the regular file `stream` reads, if it is at byte `start` (where the
    blocks' offsets begin), for workers to read blocks from it themselves; else None."""
    path = getattr(stream, "name", None)
    try:
        if not isinstance(path, str) or not os.path.isfile(path) or stream.tell() != start:
            return None
    except OSError:  # not seekable: a pipe
        return None
    return path


def _skip_rest(stream: IO[bytes]) -> int:
    skipped = 0
    while True:
        piece = stream.readline(1024 * 1024)
        skipped += len(piece)
        if not piece or piece.endswith(b"\n"):
            return skipped


def block_lines(block: Block, max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """(number, line) for each non-blank line of a block; None for a line over the limit.
    Blank lines count for numbering; `\\r\\n` endings and a leading BOM are accepted."""
    if block.oversized:
        yield block.first_line, None
        return
    for number, raw in enumerate(block.data.split(b"\n"), block.first_line):
        raw = raw.rstrip(b"\r\n")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if len(raw) > max_line_bytes:
            yield number, None  # the product's bytes: not its `\r` nor the BOM
        elif raw and not raw.isspace():  # (not strip(): that copies every line)
            yield number, raw


def take_lines(blocks: Iterator[Block], count: int) -> Iterator[Block]:
    """The blocks holding the next `count` lines, the last one cut at its last line."""
    for block in blocks:
        if block.lines < count:
            count -= block.lines
            yield block
            continue
        if block.lines == count:
            yield block
            return
        block = block.attached()
        cut = -1
        for _ in range(count):
            cut = block.data.index(b"\n", cut + 1)
        data = block.data[: cut + 1]
        yield Block(block.first_line, data, count, block.end - len(block.data) + len(data))
        return


def oversized(line_num: int, max_line_bytes: int = MAX_LINE_BYTES) -> CatalogError:
    return CatalogError(
        ErrorType.LINE_TOO_LONG, f"line is longer than {max_line_bytes} bytes", line_num
    )


def file_too_large(size: int, max_file_bytes: int = MAX_FILE_BYTES) -> CatalogError:
    """The whole file refused (line 0: no line of it was read)."""
    return CatalogError(
        ErrorType.FILE_TOO_LARGE,
        f"the file is {size} bytes; a catalog file is at most {max_file_bytes} bytes, "
        "and none of it was read",
        0,
    )


def processing_failed(reason: str) -> CatalogError:
    """Every attempt to process the file failed (line 0: it is about the whole file)."""
    return CatalogError(ErrorType.PROCESSING_FAILED, f"processing stopped: {reason}", 0)


def too_many_lines(line_num: int, max_lines: int = MAX_LINES) -> CatalogError:
    return CatalogError(
        ErrorType.TOO_MANY_LINES,
        f"the file has more than {max_lines} products; lines from here on are not read",
        line_num,
    )


def duplicate(where: str, first_line: int, line_num: int) -> CatalogError:
    """`where`: the repeated id's field, `id` (the product's) or `variants[N].id`."""
    kind = "product" if where == "id" else "variant"
    return CatalogError(
        ErrorType.DUPLICATE_ID,
        f"{kind} id already used on line {first_line}; ids must be unique across the file "
        f"(field `{where}`)",
        line_num,
    )


# --- tallying --------------------------------------------------------------------------------


@dataclass
class ErrorTally:
    """Counts every error; keeps the first `keep` of each type (the vendor shows 10)."""

    keep: int = MAX_ERRORS_PER_TYPE
    counts: dict[str, int] = field(default_factory=dict)
    kept: dict[str, list[CatalogError]] = field(default_factory=dict)

    def add(self, error: CatalogError) -> None:
        self.counts[error.errorType] = self.counts.get(error.errorType, 0) + 1
        bucket = self.kept.setdefault(error.errorType, [])
        if len(bucket) < self.keep:
            bucket.append(error)

    def absorb(self, later: ErrorTally) -> None:
        """Add the tally of the lines that follow this one's: its counts all count, its
        kept errors fill the per-type caps, so the kept ones stay the file's first."""
        for error_type, number in later.counts.items():
            self.counts[error_type] = self.counts.get(error_type, 0) + number
        for error_type, errors in later.kept.items():
            bucket = self.kept.setdefault(error_type, [])
            bucket.extend(errors[: max(0, self.keep - len(bucket))])

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def errors(self) -> list[CatalogError]:
        """Kept errors in file order."""
        every = [error for bucket in self.kept.values() for error in bucket]
        return sorted(every, key=lambda error: (error.lineNum, error.errorType))

    def to_state(self) -> dict[str, Any]:
        return {"counts": self.counts, "errors": msgspec.to_builtins(self.errors())}

    @classmethod
    def from_state(cls, state: dict[str, Any] | None) -> ErrorTally:
        tally = cls()
        if not state:
            return tally
        tally.counts = {str(key): int(value) for key, value in state.get("counts", {}).items()}
        for error in msgspec.convert(state.get("errors", []), list[CatalogError]):
            tally.kept.setdefault(error.errorType, []).append(error)
        return tally


# --- many lines at once (what a worker process runs) -----------------------------------------

# Ids are hashed where they are decoded, with Python's string hash: fast, but keyed per
# interpreter. A file's ids must all be hashed under one key, so every result carries the
# hash of this probe and whoever collects them checks that it never changes.
_PROBE = "heedful catalog id hash probe"


@dataclass
class BatchResult:
    """Lines checked, small enough to send back from a worker process: errors capped per
    type, the numbers of rejected lines, and the 64-bit hashes of the valid lines' ids."""

    received: int = 0
    valid: int = 0
    tally: ErrorTally = field(default_factory=ErrorTally)
    rejected: array[int] = field(default_factory=lambda: array("q"))
    hashes: array[int] = field(default_factory=lambda: array("q"))
    id_lines: array[int] = field(default_factory=lambda: array("q"))  # see `_place`
    probe: int = field(default_factory=lambda: hash(_PROBE))
    past_limit: int = 0  # the first line past the block's `room` (0: none); nothing after counts


_VARIANT_SALT = 0x5A5A_A5A5_3C3C_C3C3  # product "x" and variant "x" are different ids


def check_block(
    block: Block,
    now: datetime | None,
    max_line_bytes: int = MAX_LINE_BYTES,
    room: int = NO_LIMIT,
) -> BatchResult:
    """The block's lines checked. `room`: how many products (lines not blank) it may hold
    before the file's limit; only the collecting process knows it (see `ProductLimit`)."""
    block = block.attached()
    result = BatchResult()
    errors: list[CatalogError] = []
    lines = block_lines(block, max_line_bytes)
    # One cheap look at the whole block spares its lines the NUL check, nearly always.
    suspect = nul.maybe_in_json(block.data)
    while group := list(itertools.islice(lines, _GROUP)):
        _check_group(group, now, (max_line_bytes, room), result, errors, suspect)
        if result.past_limit:
            break
    for error in sorted(errors, key=_line_of):
        result.tally.add(error)
        result.rejected.append(error.lineNum)
    return result


# Lines checked together: enough to share the Python-level work, few enough that their
# decoded objects stay in the CPU's cache (a whole block's were slower than line by line).
_GROUP = 32


def _check_group(
    lines: list[tuple[int, bytes | None]],
    now: datetime | None,
    limits: tuple[int, int],
    result: BatchResult,
    errors: list[CatalogError],
    suspect: bool,
) -> None:
    """Every line is decoded first; then the pattern and cross-field rules run over all the
    group's products at once, in a few C-level calls. Only when those find something are
    the products checked one by one, as `check_line` does, to name each line's first error."""
    valid = _decode_lines(lines, limits, result, errors, suspect)
    if not _patterns_hold(valid.products):
        valid = valid.one_by_one(errors, _check_patterns)
    if not _cross_hold(valid, now):
        valid = valid.one_by_one(errors, lambda product, number: _cross_check(product, number, now))
    result.valid += len(valid.products)
    valid.record_ids(result)


def _line_of(error: CatalogError) -> int:
    return error.lineNum


@dataclass
class _Decoded:
    """A block's products that passed so far, and their line numbers."""

    numbers: list[int] = field(default_factory=list)
    products: list[Product] = field(default_factory=list)

    def one_by_one(
        self, errors: list[CatalogError], check: Callable[[Product, int], CatalogError | None]
    ) -> _Decoded:
        passed = _Decoded()
        for number, product in zip(self.numbers, self.products, strict=True):
            error = check(product, number)
            if error is None:
                passed.numbers.append(number)
                passed.products.append(product)
            else:
                errors.append(error)
        return passed

    @functools.cached_property
    def variant_ids(self) -> list[str]:
        """Every variant's id, in file order (used by `_cross_hold`, then `record_ids`)."""
        return [variant.id for product in self.products for variant in product.variants]

    @functools.cached_property
    def variant_tags(self) -> list[int]:
        """Each variant's line, tagged as a variant's (line * 2 + 1), in file order."""
        return [
            number * 2 + 1
            for number, product in zip(self.numbers, self.products, strict=True)
            for _ in product.variants
        ]

    def record_ids(self, result: BatchResult) -> None:
        result.hashes.extend([hash(product.id) for product in self.products])
        result.hashes.extend([hash(variant_id) ^ _VARIANT_SALT for variant_id in self.variant_ids])
        result.id_lines.extend([number << _PLACE_BITS for number in self.numbers])
        result.id_lines.extend(
            [
                (number << _PLACE_BITS) + place
                for number, product in zip(self.numbers, self.products, strict=True)
                for place in range(1, len(product.variants) + 1)
            ]
        )


# Where an id was, for the error that names it when a later line repeats it: its line
# shifted left by these bits, plus 0 for the product's id or 1 + the variant's index (a
# product has at most 200 variants).
_PLACE_BITS = 8
_PLACE_MASK = (1 << _PLACE_BITS) - 1


def _place(tagged: int) -> str:
    """The field a tagged id came from (see `_PLACE_BITS`)."""
    place = tagged & _PLACE_MASK
    return "id" if place == 0 else f"variants[{place - 1}].id"


def _decode_lines(
    lines: list[tuple[int, bytes | None]],
    limits: tuple[int, int],
    result: BatchResult,
    errors: list[CatalogError],
    suspect: bool,
) -> _Decoded:
    """The lines' products; errors for lines that do not decode (`limits`: the maximum
    line length in bytes, and the block's room for products; `suspect`: whether a line may
    hold a NUL)."""
    max_line_bytes, room = limits
    room -= result.received
    taken = 0
    decoded = _Decoded()
    for number, raw in lines:
        if taken == room:
            result.past_limit = number
            break
        taken += 1
        product = (
            oversized(number, max_line_bytes) if raw is None else _decode(raw, number, suspect)
        )
        if isinstance(product, CatalogError):
            errors.append(product)
        else:
            decoded.numbers.append(number)
            decoded.products.append(product)
    result.received += taken
    return decoded


# After each newline, a link's start: a line start not followed by one is a bad link.
_LINK_START = re.compile(r"\n(?![Hh][Tt][Tt][Pp][Ss]?://[^\s/?#])")


def _patterns_hold(products: list[Product]) -> bool:
    """True only if every link, price and currency code of these products matches its
    pattern (False: look at them one by one). Links: one search finds any that does not
    start with http(s):// and a host character, and splitting the joined links on
    whitespace gives them back unchanged only if none is empty or holds whitespace.
    Prices and codes repeat, so each distinct value is matched once."""
    links = [product.link for product in products]
    links += [variant.link for product in products for variant in product.variants]
    links += [image.src for product in products if product.images for image in product.images]
    joined = "\n".join(links)
    if _LINK_START.search("\n" + joined) is not None or joined.split() != links:
        return False
    prices = [
        price for product in products for variant in product.variants for price in variant.prices
    ]
    amounts = {price.amount for price in prices}
    amounts.update([price.compareAtPrice for price in prices if price.compareAtPrice is not None])
    codes = {price.currencyCode for price in prices}
    return _all_match(ErrorType.INVALID_PRICE, amounts) and _all_match(
        ErrorType.INVALID_CURRENCY_CODE, codes
    )


# The price and currency patterns repeated over newline-joined values (no value matches a
# newline): one regex call for all of a group's values.
_JOINED = {
    kind: re.compile(f"(?:{pattern[1:-1]})(?:\n(?:{pattern[1:-1]}))*")
    for kind, pattern in (
        (ErrorType.INVALID_PRICE, _PRICE_PATTERN),
        (ErrorType.INVALID_CURRENCY_CODE, _CURRENCY_PATTERN),
    )
}


def _all_match(kind: str, values: set[str]) -> bool:
    """One regex call for all the values; False, to look closer, if a value holds a newline
    itself (it would pass as two)."""
    if not values:
        return True
    joined = "\n".join(values)
    return joined.count("\n") == len(values) - 1 and _JOINED[kind].fullmatch(joined) is not None


def _cross_hold(decoded: _Decoded, now: datetime | None) -> bool:
    """True only if no product repeats a variant id, every image names only its own
    product's variants and (when `now` is given) no price carries an expiration time to
    check. Variants and image references are keyed by line, so one set comparison checks
    the whole block."""
    products = decoded.products
    tags = decoded.variant_tags
    owned = set(zip(tags, decoded.variant_ids, strict=True))
    if len(owned) != len(tags):
        return False
    named = {
        (number * 2 + 1, variant_id)
        for number, product in zip(decoded.numbers, products, strict=True)
        if product.images
        for image in product.images
        if image.variantIds
        for variant_id in image.variantIds
    }
    if not named <= owned:
        return False
    return now is None or all(
        price.expirationTime is None
        for product in products
        for variant in product.variants
        for price in variant.prices
    )


# --- ids unique across the file --------------------------------------------------------------


class SeenIds:
    """Every product/variant id of a file in ~16 bytes each, in one process's memory.

    Ids are kept as 64-bit hashes in 256 shards of flat arrays (not a set of strings): a
    500,000-product file with 2.5 million ids needs ~40 MB. Ids must be added in file order;
    duplicates are resolved at the end, shard by shard. Two different ids collide with odds
    of about 1 in 10^7 per 2.5-million-id file; such a pair would be reported as a duplicate.
    """

    _SHARDS = 256

    def __init__(self) -> None:
        self._hashes = [array("q") for _ in range(self._SHARDS)]
        self._lines = [array("q") for _ in range(self._SHARDS)]  # line and place: `_place`
        self.probe: int | None = None

    def add(self, result: BatchResult) -> None:
        if self.probe is None:
            self.probe = result.probe
        elif result.probe != self.probe:
            raise HashKeyChanged("ids of one file were hashed under different keys")
        hashes, lines = self._hashes, self._lines
        for value, tagged in zip(result.hashes, result.id_lines, strict=True):
            hashes[value & 255].append(value)
            lines[value & 255].append(tagged)

    def duplicates(self) -> list[CatalogError]:
        """One error per line that repeats an id first seen on an earlier line, in file
        order (so the per-type cap keeps the first ones)."""
        found: dict[int, tuple[int, int]] = {}  # line -> (place, first line)
        for hashes, lines in zip(self._hashes, self._lines, strict=True):
            if len(set(hashes)) == len(hashes):
                continue  # nearly always: a shard with nothing repeated, found in C
            first: dict[int, int] = {}
            for value, tagged in zip(hashes, lines, strict=True):
                line = tagged >> _PLACE_BITS
                owner = first.setdefault(value, line)
                if owner != line:
                    # The product's id is named before a variant's, and variants in order.
                    place = tagged & _PLACE_MASK
                    found[line] = min(found.get(line, (place, owner)), (place, owner))
        return [
            duplicate(_place(place), owner, line) for line, (place, owner) in sorted(found.items())
        ]


class HashKeyChanged(RuntimeError):
    """Results of one file came from processes with different string-hash keys (a worker
    pool restarted from scratch mid-file): its ids cannot be compared; start over."""


# --- a whole file ----------------------------------------------------------------------------


class ProductLimit:
    """A file's limit of `max_lines` products, kept where results are added up in file order.

    The vendor's limit is "500k line/product": one product per line. A blank line is skipped,
    not a product, so it does not count (line numbers stay physical). A block's room under
    the limit thus depends on the blank lines of every block before it, which the worker
    checking it does not know: blocks are checked without a limit, and the one whose
    products take the count past it is checked again with the room left. Only a block
    reaching past line `max_lines` can do that, so only such blocks are kept for it (none at
    all in a file of fewer lines): the hot path pays nothing."""

    def __init__(self, max_lines: int, workers: int | None) -> None:
        self.max_lines = max_lines
        self._workers = workers
        self._blocks: deque[Block | None] = deque()  # read, result not yet admitted

    def watch(self, blocks: Iterable[Block]) -> Iterator[Block]:
        for block in blocks:
            may_cross = block.first_line + block.lines - 1 > self.max_lines
            self._blocks.append(block if may_cross else None)
            yield block

    def admit(
        self,
        report: FileReport,
        seen: SeenIds,
        result: BatchResult,
        now: datetime | None,
        max_line_bytes: int,
    ) -> BatchResult:
        """Add the next block's result to the report, cut at the limit (its `past_limit`
        then says where: nothing after counts); returns the result added."""
        block = self._blocks.popleft()
        room = self.max_lines - report.products_received
        if block is not None and result.received > room:
            result = self._again(block, room, result, now, max_line_bytes)
        add_result(report, seen, result)
        if result.past_limit:
            report.tally.add(too_many_lines(result.past_limit, self.max_lines))
        return result

    def _again(
        self,
        block: Block,
        room: int,
        like: BatchResult,
        now: datetime | None,
        max_line_bytes: int,
    ) -> BatchResult:
        """`block` checked with `room`, in the process (this one, or the pool) that checked
        it first: a file's ids must all be hashed under one string-hash key."""
        if like.probe == hash(_PROBE):
            return check_block(block, now, max_line_bytes, room)
        from heedful.catalog.parallel import ordered_map

        [result] = ordered_map(
            check_block, [block], now, max_line_bytes, room, workers=self._workers, min_items=1
        )
        return result


@dataclass
class FileReport:
    products_received: int = 0
    products_valid: int = 0
    tally: ErrorTally = field(default_factory=ErrorTally)

    @property
    def ok(self) -> bool:
        return self.tally.total == 0


Progress = Callable[[int, int], None]  # (products seen so far, bytes read so far)


def validate_stream(
    stream: IO[bytes],
    *,
    now: datetime | None = None,
    max_lines: int = MAX_LINES,
    max_line_bytes: int = MAX_LINE_BYTES,
    progress: Progress | None = None,
    workers: int | None = None,
    block_bytes: int = BLOCK_BYTES,
) -> FileReport:
    """Validate a whole file (the CLI and the benchmark use this). Blocks of lines are
    checked in `workers` processes (default: one per core, but small files stay in this
    process; 0 = always here) while this process reads ahead and merges in file order."""
    from heedful.catalog.parallel import ordered_map

    report = FileReport()
    seen = SeenIds()
    limit = ProductLimit(max_lines, workers)
    ends: deque[int] = deque()

    path = file_path(stream)

    def blocks() -> Iterator[Block]:
        for block in read_blocks(
            stream, max_line_bytes=max_line_bytes, block_bytes=block_bytes, path=path
        ):
            ends.append(block.end)
            yield block

    checked = ordered_map(
        check_block,
        limit.watch(blocks()),
        now,
        max_line_bytes,
        workers=workers,
    )
    for result in checked:
        result = limit.admit(report, seen, result, now, max_line_bytes)
        if progress is not None:
            progress(report.products_received, ends.popleft())
        if result.past_limit:
            checked.close()  # lines read ahead past the limit do not count
            break
    finish(report, seen)
    return report


def add_result(report: FileReport, seen: SeenIds, result: BatchResult) -> None:
    report.products_received += result.received
    report.products_valid += result.valid
    report.tally.absorb(result.tally)
    seen.add(result)


def finish(report: FileReport, seen: SeenIds) -> list[int]:
    """Report ids repeated across the file; returns the lines rejected for it."""
    duplicates = seen.duplicates()
    for error in duplicates:
        report.tally.add(error)
    report.products_valid -= len(duplicates)
    return [error.lineNum for error in duplicates]


def validate_lines(lines: Iterable[bytes], **options: Any) -> FileReport:
    """Convenience for tests and callers holding lines in memory."""
    import io

    return validate_stream(io.BytesIO(b"\n".join(lines) + b"\n"), **options)
