"""The catalog file validator: NDJSON product lines checked in constant memory.

Pure: no web, no database. The server's processing job and `heedful catalog validate` both
use it. The shape rules (required fields, types, lengths, counts, URLs, timestamps, ranges)
are declared as msgspec `Meta` constraints, so a line is decoded and checked in C in one
step; only the cross-field rules (image `variantIds`, ids unique within a line, a price's
`expirationTime` in the future) run in Python. msgspec stops at a line's first problem, so a
line reports one error.

Limits follow the vendor's current format documentation ("Spec B"), which only widened the
older spec's limits: every file valid under the old limits is valid here.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Annotated, Any

import msgspec
from msgspec import Meta, Struct

MAX_LINE_BYTES = 4 * 1024 * 1024
MAX_LINES = 500_000
MAX_ERRORS_PER_TYPE = 10
_BOM = b"\xef\xbb\xbf"


class ErrorType:
    """The fixed `errorType` vocabulary (documented in docs/catalog.md)."""

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
Url = Annotated[str, Meta(max_length=2048, pattern=_URL_PATTERN)]
Position = Annotated[int, Meta(ge=0)]
Amount = Annotated[str, Meta(max_length=64, pattern=_PRICE_PATTERN)]
Categories = Annotated[list[Annotated[str, Meta(max_length=750)]], Meta(max_length=100)]
Tags = Annotated[list[Annotated[str, Meta(max_length=64)]], Meta(max_length=250)]
Collections = Annotated[list[Name], Meta(max_length=50)]


class Attribute(Struct, frozen=True):
    name: Annotated[str, Meta(max_length=64)]
    value: Annotated[str, Meta(max_length=256)]


class Price(Struct, frozen=True, omit_defaults=True):
    currencyCode: Annotated[str, Meta(pattern=_CURRENCY_PATTERN)]
    amount: Amount
    compareAtPrice: Amount | None = None
    activeTime: datetime | None = None
    expirationTime: datetime | None = None


class ProductOptionValue(Struct, frozen=True):
    productOptionName: Name
    value: Name


class ProductOption(Struct, frozen=True):
    name: Name
    position: Position
    values: Annotated[list[Name], Meta(max_length=200)]


class Image(Struct, frozen=True, omit_defaults=True):
    src: Url
    alt: Annotated[str, Meta(max_length=512)] | None = None
    width: Annotated[int, Meta(ge=0)] | None = None
    height: Annotated[int, Meta(ge=0)] | None = None
    variantIds: Annotated[list[str], Meta(max_length=200)] | None = None
    position: Position = 0


class Variant(Struct, frozen=True, omit_defaults=True):
    id: Id
    name: Name
    link: Url
    lastUpdated: datetime
    availableForPurchase: bool
    prices: Annotated[list[Price], Meta(min_length=1, max_length=50)]
    position: Position | None = None
    inventoryQuantity: int | None = None
    productOptionValues: Annotated[list[ProductOptionValue], Meta(max_length=25)] | None = None
    attributes: Annotated[list[Attribute], Meta(max_length=100)] | None = None


class Product(Struct, frozen=True, omit_defaults=True):
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


class CatalogError(Struct, frozen=True):
    """One reported problem, in the vendor's `CatalogUploadErrorResponse` shape."""

    errorType: str
    errorMessage: str
    lineNum: int


# msgspec's message -> our errorType. Order matters: the first match wins.
_CLASSIFIERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), error_type)
    for pattern, error_type in (
        (r"^Object missing required field", ErrorType.MISSING_REQUIRED_FIELD),
        (r"^Expected `str` matching regex '\^\[Hh\]", ErrorType.INVALID_URL),
        (r"^Expected `str` matching regex '\^\[0-9\]", ErrorType.INVALID_PRICE),
        (r"^Expected `str` matching regex '\^\[A-Z\]", ErrorType.INVALID_CURRENCY_CODE),
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
        return CatalogError(error_type, "line is not a JSON object", line_num)
    if message.startswith("Object missing required field"):
        missing = message.rsplit("`", 2)[-2]
        where = f"{where}.{missing}" if where else missing
        return CatalogError(error_type, f"missing required field `{where}`", line_num)
    return CatalogError(error_type, f"{message} (field `{where}`)", line_num)


# --- one line --------------------------------------------------------------------------------


def check_line(raw: bytes, line_num: int, now: datetime | None = None) -> Product | CatalogError:
    """Decode and check one line (without its newline): the product, or its first error."""
    try:
        product = _decoder.decode(raw)
    except msgspec.ValidationError as exc:
        return _classify(exc, line_num)
    except msgspec.DecodeError as exc:
        return CatalogError(ErrorType.INVALID_JSON, f"invalid JSON: {exc}", line_num)
    except UnicodeDecodeError as exc:
        return CatalogError(ErrorType.INVALID_ENCODING, f"not UTF-8: {exc.reason}", line_num)
    return _cross_check(product, line_num, now) or product


def _cross_check(product: Product, line_num: int, now: datetime | None) -> CatalogError | None:
    variant_ids: set[str] = set()
    for index, variant in enumerate(product.variants):
        if variant.id in variant_ids:
            return CatalogError(
                ErrorType.DUPLICATE_ID,
                f"variant id {variant.id!r} appears twice in this product "
                f"(field `variants[{index}].id`)",
                line_num,
            )
        variant_ids.add(variant.id)
        if now is not None:
            error = _check_expiry(variant, index, line_num, now)
            if error is not None:
                return error
    for index, image in enumerate(product.images or ()):
        for position, variant_id in enumerate(image.variantIds or ()):
            if variant_id not in variant_ids:
                return CatalogError(
                    ErrorType.UNKNOWN_VARIANT_ID,
                    f"image names variant {variant_id!r}, which is not a variant of this "
                    f"product (field `images[{index}].variantIds[{position}]`)",
                    line_num,
                )
    return None


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


# --- reading lines ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    number: int
    raw: bytes | None  # None: longer than the limit (its bytes were skipped, never held)
    end: int  # byte offset just past this line


def read_lines(
    stream: IO[bytes],
    *,
    start_offset: int = 0,
    start_line: int = 0,
    max_line_bytes: int = MAX_LINE_BYTES,
) -> Iterator[Line]:
    """Lines of a binary stream already positioned at `start_offset`, in constant memory.

    Blank lines are skipped (they still count for `lineNum`); `\\r\\n` endings are accepted.
    """
    offset, number = start_offset, start_line
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        offset += len(raw)
        number += 1
        if not raw.endswith(b"\n") and len(raw) > max_line_bytes:
            offset += _skip_rest(stream)
            yield Line(number, None, offset)
            continue
        raw = raw.rstrip(b"\r\n")
        if number == 1 and raw.startswith(_BOM):
            raw = raw[len(_BOM) :]
        if raw.strip():
            yield Line(number, raw, offset)


def _skip_rest(stream: IO[bytes]) -> int:
    skipped = 0
    while True:
        piece = stream.readline(1024 * 1024)
        skipped += len(piece)
        if not piece or piece.endswith(b"\n"):
            return skipped


def oversized(line_num: int, max_line_bytes: int = MAX_LINE_BYTES) -> CatalogError:
    return CatalogError(
        ErrorType.LINE_TOO_LONG, f"line is longer than {max_line_bytes} bytes", line_num
    )


def too_many_lines(line_num: int, max_lines: int = MAX_LINES) -> CatalogError:
    return CatalogError(
        ErrorType.TOO_MANY_LINES,
        f"the file has more than {max_lines} products; lines from here on are not read",
        line_num,
    )


def duplicate(kind: str, first_line: int, line_num: int) -> CatalogError:
    return CatalogError(
        ErrorType.DUPLICATE_ID,
        f"{kind} id already used on line {first_line} (ids must be unique across the file)",
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


# --- ids unique across the file --------------------------------------------------------------


def product_keys(product: Product) -> Iterator[tuple[str, str]]:
    """(kind, id) pairs that must be unique across a file: the product's and its variants'."""
    yield "product", product.id
    for variant in product.variants:
        yield "variant", variant.id


class SeenIds:
    """Every product/variant id of a file in ~12 bytes each, for a one-process validation.

    Ids are kept as 64-bit hashes in 256 shards of flat arrays (not a set of strings): a
    500,000-product file with 2.5 million ids needs ~30 MB. Duplicates are resolved at the
    end, shard by shard. Two different ids collide with odds of about 1 in 10^7 per
    2.5-million-id file; such a pair would be reported as a duplicate.
    """

    _SHARDS = 256

    def __init__(self) -> None:
        self._hashes = [array("q") for _ in range(self._SHARDS)]
        self._lines = [array("q") for _ in range(self._SHARDS)]  # line * 2 + (1 if variant)

    def add(self, product: Product, line_num: int) -> None:
        value = hash(("p", product.id))
        self._hashes[value & 255].append(value)
        self._lines[value & 255].append(line_num * 2)
        for variant in product.variants:
            value = hash(("v", variant.id))
            self._hashes[value & 255].append(value)
            self._lines[value & 255].append(line_num * 2 + 1)

    def duplicates(self) -> Iterator[CatalogError]:
        """One error per line that repeats an id first seen on an earlier line."""
        reported: set[int] = set()
        for hashes, lines in zip(self._hashes, self._lines, strict=True):
            first: dict[int, int] = {}
            for value, tagged in sorted(zip(hashes, lines, strict=True)):
                line = tagged >> 1
                if value not in first:
                    first[value] = line
                elif first[value] != line and line not in reported:
                    reported.add(line)
                    kind = "variant" if tagged & 1 else "product"
                    yield duplicate(kind, first[value], line)


# --- a whole file ----------------------------------------------------------------------------


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
    every: int = 5000,
) -> FileReport:
    """Validate a whole file in one pass (the CLI and the benchmark use this)."""
    report = FileReport()
    seen = SeenIds()
    for line in read_lines(stream, max_line_bytes=max_line_bytes):
        if line.number > max_lines:
            report.tally.add(too_many_lines(line.number, max_lines))
            break
        report.products_received += 1
        result = (
            oversized(line.number, max_line_bytes)
            if line.raw is None
            else check_line(line.raw, line.number, now)
        )
        if isinstance(result, CatalogError):
            report.tally.add(result)
        else:
            report.products_valid += 1
            seen.add(result, line.number)
        if progress is not None and report.products_received % every == 0:
            progress(report.products_received, line.end)
    for error in seen.duplicates():
        report.tally.add(error)
        report.products_valid -= 1
    return report


def validate_lines(lines: Iterable[bytes], **options: Any) -> FileReport:
    """Convenience for tests and callers holding lines in memory."""
    import io

    return validate_stream(io.BytesIO(b"\n".join(lines) + b"\n"), **options)
