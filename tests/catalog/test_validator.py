"""The validator on its own: one test per rule, the per-type cap, the spec's own example."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from heedful.catalog.sample import example_product
from heedful.catalog.validator import (
    ERROR_TYPES,
    ErrorTally,
    ErrorType,
    FileReport,
    check_line,
    validate_stream,
)
from heedful.spec import load_spec
from tests.catalog.support import ndjson, product

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def run(lines: list[bytes], **options: Any) -> FileReport:
    return validate_stream(io.BytesIO(ndjson(lines)), now=NOW, **options)


def only_error(report: FileReport) -> tuple[str, int, str]:
    errors = report.tally.errors()
    assert len(errors) == 1, errors
    return errors[0].errorType, errors[0].lineNum, errors[0].errorMessage


def test_the_spec_example_product_is_valid() -> None:
    report = run([msgspec.json.encode(example_product())])

    assert report.ok
    assert (report.products_received, report.products_valid) == (1, 1)


def test_the_spec_formatted_example_has_trailing_commas_so_it_is_invalid_json() -> None:
    tag = next(t for t in load_spec()["tags"] if t["name"] == "Product Catalog")
    text = tag["description"].split("### Formatted example of one product")[1]
    example = text.split("```")[1].strip()
    single_line = " ".join(part.strip() for part in example.splitlines()).encode()

    error_type, line, message = only_error(run([product(1), single_line]))

    assert (error_type, line) == (ErrorType.INVALID_JSON, 2)
    assert "trailing comma" in message


def _set(path: str, value: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return change


_DELETE = object()

RULES = [
    ("missing product id", "id", _DELETE, ErrorType.MISSING_REQUIRED_FIELD, "`id`"),
    (
        "missing variant link",
        "variants.1.link",
        _DELETE,
        ErrorType.MISSING_REQUIRED_FIELD,
        "`variants[1].link`",
    ),
    (
        "missing price amount",
        "variants.0.prices.0.amount",
        _DELETE,
        ErrorType.MISSING_REQUIRED_FIELD,
        "`variants[0].prices[0].amount`",
    ),
    (
        "missing option values",
        "productOptions.0.values",
        _DELETE,
        ErrorType.MISSING_REQUIRED_FIELD,
        "`productOptions[0].values`",
    ),
    (
        "missing option value name",
        "variants.0.productOptionValues.0.productOptionName",
        _DELETE,
        ErrorType.MISSING_REQUIRED_FIELD,
        "productOptionName",
    ),
    ("missing image src", "images.0.src", _DELETE, ErrorType.MISSING_REQUIRED_FIELD, "src"),
    (
        "missing attribute value",
        "attributes.0.value",
        _DELETE,
        ErrorType.MISSING_REQUIRED_FIELD,
        "value",
    ),
    ("empty product id", "id", "", ErrorType.MISSING_REQUIRED_FIELD, "`id`"),
    ("name not a string", "name", 5, ErrorType.INVALID_TYPE, "`name`"),
    (
        "availableForPurchase not a bool",
        "variants.0.availableForPurchase",
        "yes",
        ErrorType.INVALID_TYPE,
        "availableForPurchase",
    ),
    ("amount not a string", "variants.0.prices.0.amount", 10.0, ErrorType.INVALID_TYPE, "amount"),
    ("width not an int", "images.0.width", "wide", ErrorType.INVALID_TYPE, "width"),
    ("product name too long", "name", "x" * 257, ErrorType.VALUE_TOO_LONG, "`name`"),
    ("description too long", "description", "x" * 1025, ErrorType.VALUE_TOO_LONG, "description"),
    ("variant id too long", "variants.0.id", "v" * 257, ErrorType.VALUE_TOO_LONG, "id"),
    (
        "option value too long",
        "productOptions.0.values.0",
        "x" * 257,
        ErrorType.VALUE_TOO_LONG,
        "values[0]",
    ),
    ("image alt too long", "images.0.alt", "x" * 513, ErrorType.VALUE_TOO_LONG, "alt"),
    (
        "attribute name too long",
        "attributes.0.name",
        "x" * 65,
        ErrorType.VALUE_TOO_LONG,
        "attributes[0].name",
    ),
    ("tag too long", "tags", ["x" * 65], ErrorType.VALUE_TOO_LONG, "tags[0]"),
    ("link too long", "link", "https://a.example/" + "x" * 2040, ErrorType.VALUE_TOO_LONG, "link"),
    ("too many categories", "categories", ["c"] * 101, ErrorType.TOO_MANY_ITEMS, "categories"),
    ("too many tags", "tags", ["t"] * 251, ErrorType.TOO_MANY_ITEMS, "tags"),
    ("too many collections", "collections", ["c"] * 51, ErrorType.TOO_MANY_ITEMS, "collections"),
    (
        "too many options",
        "productOptions",
        [{"name": "o", "position": 0, "values": []}] * 26,
        ErrorType.TOO_MANY_ITEMS,
        "productOptions",
    ),
    (
        "too many option values",
        "productOptions.0.values",
        ["v"] * 201,
        ErrorType.TOO_MANY_ITEMS,
        "values",
    ),
    (
        "too many images",
        "images",
        [{"src": "https://a.example/i.png"}] * 251,
        ErrorType.TOO_MANY_ITEMS,
        "images",
    ),
    (
        "too many attributes",
        "attributes",
        [{"name": "a", "value": "b"}] * 101,
        ErrorType.TOO_MANY_ITEMS,
        "attributes",
    ),
    ("no variants", "variants", [], ErrorType.TOO_FEW_ITEMS, "variants"),
    ("no prices", "variants.0.prices", [], ErrorType.TOO_FEW_ITEMS, "prices"),
    (
        "negative variant position",
        "variants.0.position",
        -1,
        ErrorType.VALUE_OUT_OF_RANGE,
        "position",
    ),
    (
        "negative option position",
        "productOptions.0.position",
        -2,
        ErrorType.VALUE_OUT_OF_RANGE,
        "position",
    ),
    ("ftp product link", "link", "ftp://shop.example/p", ErrorType.INVALID_URL, "`link`"),
    ("relative variant link", "variants.0.link", "/p/123", ErrorType.INVALID_URL, "link"),
    ("image src not a URL", "images.1.src", "picture.png", ErrorType.INVALID_URL, "src"),
    (
        "two links in one",
        "variants.1.link",
        "https://a.example/x\nhttps://b.example/y",
        ErrorType.INVALID_URL,
        "variants[1].link",
    ),
    (
        "two amounts in one",
        "variants.0.prices.0.amount",
        "10\n20",
        ErrorType.INVALID_PRICE,
        "amount",
    ),
    ("date without time", "lastUpdated", "2021-10-05", ErrorType.INVALID_TIMESTAMP, "lastUpdated"),
    (
        "variant timestamp garbage",
        "variants.2.lastUpdated",
        "yesterday",
        ErrorType.INVALID_TIMESTAMP,
        "lastUpdated",
    ),
    (
        "expired price",
        "variants.0.prices.0.expirationTime",
        "2020-01-01T00:00:00Z",
        ErrorType.INVALID_TIMESTAMP,
        "expirationTime",
    ),
    (
        "lowercase currency",
        "variants.0.prices.0.currencyCode",
        "usd",
        ErrorType.INVALID_CURRENCY_CODE,
        "currencyCode",
    ),
    ("amount not a number", "variants.0.prices.0.amount", "ten", ErrorType.INVALID_PRICE, "amount"),
    (
        "image names a foreign variant",
        "images.0.variantIds",
        ["VD-999"],
        ErrorType.UNKNOWN_VARIANT_ID,
        "VD-999",
    ),
    (
        "variant id twice in a product",
        "variants.1.id",
        "VD-234-2",
        ErrorType.DUPLICATE_ID,
        "VD-234-2",
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "error_type", "named"),
    [rule[1:] for rule in RULES],
    ids=[rule[0] for rule in RULES],
)
def test_each_rule_reports_exactly_its_error_type_and_line(
    path: str, value: Any, error_type: str, named: str
) -> None:
    report = run([product(1), product(2, _set(path, value)), product(3)])

    found_type, line, message = only_error(report)
    assert (found_type, line) == (error_type, 2)
    assert named in message
    assert (report.products_received, report.products_valid) == (3, 2)


def test_every_documented_error_type_is_exercised() -> None:
    covered = {rule[3] for rule in RULES} | {
        ErrorType.INVALID_JSON,
        ErrorType.INVALID_ENCODING,
        ErrorType.LINE_TOO_LONG,
        ErrorType.TOO_MANY_LINES,
        ErrorType.FILE_TOO_LARGE,  # the S3 watcher's (tests/catalog/test_s3.py)
        ErrorType.PROCESSING_FAILED,  # the worker's (tests/catalog/test_routes.py)
    }
    assert covered == set(ERROR_TYPES)


def test_a_line_that_is_not_an_object_is_invalid_json() -> None:
    assert only_error(run([product(1), b"[1, 2]"]))[:2] == (ErrorType.INVALID_JSON, 2)


def test_bytes_that_are_not_utf8_are_an_encoding_error() -> None:
    broken = product(2).replace(b"Nasa T-Shirt", b"Nasa \xff\xfe Shirt", 1)

    assert only_error(run([product(1), broken]))[:2] == (ErrorType.INVALID_ENCODING, 2)


def test_a_line_over_the_size_limit_is_skipped_without_being_held() -> None:
    huge = product(2, _set("description", "x" * 5000))

    report = run([product(1), huge, product(3)], max_line_bytes=4096)

    assert only_error(report)[:2] == (ErrorType.LINE_TOO_LONG, 2)
    assert report.products_valid == 2


def test_lines_past_the_limit_are_not_read() -> None:
    report = run([product(n) for n in range(1, 6)], max_lines=3)

    assert only_error(report)[:2] == (ErrorType.TOO_MANY_LINES, 4)
    assert report.products_received == 3


def test_the_limit_counts_products_not_blank_lines() -> None:
    # The vendor's limit is "500k line/product": one product per line. A blank line is
    # skipped, not a product, so it takes nothing from the limit; numbers stay physical.
    at_limit = run([product(1), b"", product(2), b"  ", b"", product(3), b""], max_lines=3)
    past_limit = run([product(1), b"", product(2), b"", product(3), b"", product(4)], max_lines=3)

    assert at_limit.ok
    assert (at_limit.products_received, at_limit.products_valid) == (3, 3)
    assert only_error(past_limit)[:2] == (ErrorType.TOO_MANY_LINES, 7)
    assert "more than 3 products" in only_error(past_limit)[2]
    assert (past_limit.products_received, past_limit.products_valid) == (3, 3)


def test_product_and_variant_ids_must_be_unique_across_the_file() -> None:
    same_product = product(1, _both(_set("variants", [_variant("other-1")]), _no_images))
    same_variant = product(3, _both(_set("variants.0.id", "VD-234-1"), _no_images))

    report = run([product(1), product(2), same_product, same_variant])

    errors = report.tally.errors()
    assert [(e.errorType, e.lineNum) for e in errors] == [
        (ErrorType.DUPLICATE_ID, 3),
        (ErrorType.DUPLICATE_ID, 4),
    ]
    assert "line 1" in errors[0].errorMessage and "product" in errors[0].errorMessage
    assert "line 1" in errors[1].errorMessage and "variant" in errors[1].errorMessage
    assert report.products_valid == 2


def _no_images(data: dict[str, Any]) -> None:
    del data["images"]


def _both(*changes: Any) -> Any:
    def change(data: dict[str, Any]) -> None:
        for one in changes:
            one(data)

    return change


def _variant(variant_id: str) -> dict[str, Any]:
    return {**example_product()["variants"][0], "id": variant_id}


def test_at_most_ten_errors_are_kept_per_type_but_all_are_counted() -> None:
    bad = [product(n, _set("name", 1)) for n in range(1, 26)]
    long = [product(n, _set("name", "x" * 300)) for n in range(26, 29)]

    report = run(bad + long + [b"{"] * 12)

    kept = report.tally.errors()
    by_type = {t: [e for e in kept if e.errorType == t] for t in report.tally.counts}
    assert report.tally.counts == {
        ErrorType.INVALID_TYPE: 25,
        ErrorType.VALUE_TOO_LONG: 3,
        ErrorType.INVALID_JSON: 12,
    }
    assert [e.lineNum for e in by_type[ErrorType.INVALID_TYPE]] == list(range(1, 11))
    assert len(by_type[ErrorType.VALUE_TOO_LONG]) == 3
    assert len(by_type[ErrorType.INVALID_JSON]) == 10


def test_blank_lines_crlf_and_a_bom_are_tolerated_and_line_numbers_stay_true() -> None:
    data = b"\xef\xbb\xbf" + product(1) + b"\r\n\r\n" + product(2, _set("name", 3)) + b"\r\n"

    report = validate_stream(io.BytesIO(data), now=NOW)

    assert only_error(report)[:2] == (ErrorType.INVALID_TYPE, 3)
    assert report.products_received == 2


def test_check_line_returns_the_decoded_product() -> None:
    result = check_line(product(7), 1, NOW)

    assert not isinstance(result, Exception)
    assert getattr(result, "id", None) == "PD-7"


def test_the_tally_round_trips_through_its_stored_state() -> None:
    tally = ErrorTally()
    for line in range(1, 13):
        tally.add(only_error_of(line))
    restored = ErrorTally.from_state(tally.to_state())

    restored.add(only_error_of(13))

    assert restored.counts == {ErrorType.INVALID_TYPE: 13}
    assert [e.lineNum for e in restored.errors()] == list(range(1, 11))


def only_error_of(line: int) -> Any:
    result = check_line(product(line, _set("name", 1)), line, NOW)
    assert not hasattr(result, "id")
    return result


# --- lines are checked in groups: what the group-wide checks must still tell apart -----------


@pytest.mark.parametrize(
    "link",
    ["HTTPS://A.EXAMPLE/X", "http://a", "https://a.example/?next=https://b.example/"],
)
def test_links_the_pattern_accepts_pass(link: str) -> None:
    report = run([product(1), product(2, _set("variants.1.link", link))])

    assert report.ok, report.tally.errors()


@pytest.mark.parametrize(
    "link",
    [
        "https://",
        "https:///path",
        "https://?q=1",
        "https://a.example/x y",
        "https://a.example/x\ty",
        " https://a.example/",
        "https://a.example/\u00a0",
        "",
    ],
)
def test_links_the_pattern_rejects_are_named(link: str) -> None:
    report = run([product(1), product(2, _set("variants.1.link", link)), product(3)])

    assert only_error(report)[:2] == (ErrorType.INVALID_URL, 2)
    assert "variants[1].link" in only_error(report)[2]


def test_an_image_naming_a_neighbouring_products_variant_is_unknown() -> None:
    report = run([product(1), product(2, _set("images.0.variantIds", ["VD-234-1"]))])

    error_type, line, message = only_error(report)
    assert (error_type, line) == (ErrorType.UNKNOWN_VARIANT_ID, 2)
    assert "VD-234-1" in message


def test_errors_of_every_stage_in_one_group_are_reported_once_each_in_file_order() -> None:
    lines = [
        product(1),
        product(2, _set("link", "ftp://x")),
        b"{",
        product(4, _set("images.0.variantIds", ["nope"])),
        product(5, _set("variants.1.id", "VD-234-5")),
        product(6, _set("variants.0.prices.0.amount", "1,00")),
        product(7, _set("variants.0.prices.0.expirationTime", "2020-01-01T00:00:00Z")),
        product(8),
    ]

    report = run(lines)

    assert [(e.errorType, e.lineNum) for e in report.tally.errors()] == [
        (ErrorType.INVALID_URL, 2),
        (ErrorType.INVALID_JSON, 3),
        (ErrorType.UNKNOWN_VARIANT_ID, 4),
        (ErrorType.DUPLICATE_ID, 5),
        (ErrorType.INVALID_PRICE, 6),
        (ErrorType.INVALID_TIMESTAMP, 7),
    ]
    assert (report.products_received, report.products_valid) == (8, 2)


def test_the_per_type_cap_keeps_the_first_lines_when_one_type_comes_from_two_stages() -> None:
    # An odd line's timestamp fails to decode; an even line's price has expired (checked
    # after decoding): the ten kept must still be lines 1-10.
    expired = _set("variants.0.prices.0.expirationTime", "2020-01-01T00:00:00Z")
    garbled = _set("lastUpdated", "yesterday")
    lines = [product(n, garbled if n % 2 else expired) for n in range(1, 15)]

    report = run(lines)

    assert report.tally.counts == {ErrorType.INVALID_TIMESTAMP: 14}
    assert [e.lineNum for e in report.tally.errors()] == list(range(1, 11))


def test_a_variant_id_twice_in_a_product_without_images_is_named_as_such() -> None:
    twice = product(2, _both(_set("variants.1.id", "VD-234-2"), _no_images))

    error_type, line, message = only_error(run([product(1), twice, product(3)]))

    assert (error_type, line) == (ErrorType.DUPLICATE_ID, 2)
    assert "appears twice in this product" in message


@pytest.mark.parametrize(
    ("path", "value", "error_type"),
    [
        ("link", "https://a.example/p\n", ErrorType.INVALID_URL),
        ("images.1.src", "https://a.example/i.png\n", ErrorType.INVALID_URL),
        ("variants.0.prices.0.amount", "10.00\n", ErrorType.INVALID_PRICE),
        ("variants.0.prices.0.compareAtPrice", "12.00\n", ErrorType.INVALID_PRICE),
        ("variants.0.prices.0.currencyCode", "USD\n", ErrorType.INVALID_CURRENCY_CODE),
    ],
)
def test_a_value_ending_in_a_newline_does_not_match_its_pattern(
    path: str, value: str, error_type: str
) -> None:
    # A regex's `$` also matches just before a final newline: "10.00\n" is not a price.
    report = run([product(1), product(2, _set(path, value)), product(3)])

    found_type, line, message = only_error(report)
    assert (found_type, line) == (error_type, 2)
    assert path.split(".")[-1] in message
    assert check_line(product(2, _set(path, value)), 2) == report.tally.errors()[0]


@pytest.mark.parametrize(
    "path",
    [
        "description",
        "brand",
        "categories",
        "images.0.alt",
        "images.0.width",
        "images.0.variantIds",
        "images.0.position",
        "variants.0.position",
        "variants.0.inventoryQuantity",
        "variants.0.prices.0.compareAtPrice",
        "variants.0.attributes",
    ],
)
def test_an_optional_field_given_null_is_taken_as_absent(path: str) -> None:
    report = run([product(1, _set(path, None))])

    assert report.ok, report.tally.errors()


def test_an_id_repeated_from_an_earlier_line_names_its_field() -> None:
    # Like every other error, a duplicate names the field: which of up to 200 variants.
    same_product = product(1, _both(_set("variants", [_variant("other-1")]), _no_images))
    same_variant = product(3, _both(_set("variants.2.id", "VD-235-1"), _no_images))
    both = product(2, _both(_set("variants.1.id", "VD-236-1"), _no_images))

    errors = run([product(1), product(2), same_product, same_variant, both]).tally.errors()

    unique = "ids must be unique across the file"
    assert [(e.lineNum, e.errorMessage) for e in errors] == [
        (3, f"product id already used on line 1; {unique} (field `id`)"),
        (4, f"variant id already used on line 1; {unique} (field `variants[2].id`)"),
        (5, f"product id already used on line 2; {unique} (field `id`)"),
    ]


def test_a_line_nested_too_deeply_is_invalid_json_not_a_crash() -> None:
    # Unknown fields are ignored, but still parsed: 5,000 nested arrays exhaust the
    # decoder's recursion limit (the job failed forever; the CLI printed a traceback).
    deep = product(2)[:-1] + b',"extra":' + b"[" * 5000 + b"]" * 5000 + b"}"

    report = run([product(1), deep, product(3)])

    error_type, line, message = only_error(report)
    assert (error_type, line) == (ErrorType.INVALID_JSON, 2)
    assert "nested too deeply" in message
    assert check_line(deep, 2) == report.tally.errors()[0]


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("variants.0", 5, "`variants[0]`"),
        ("images.1", "https://a.example/i.png", "`images[1]`"),
        ("variants.0.prices.0", None, "`variants[0].prices[0]`"),
        ("attributes", [[]], "`attributes[0]`"),
    ],
)
def test_a_nested_value_that_is_not_an_object_is_a_type_error_naming_it(
    path: str, value: Any, named: str
) -> None:
    # Only the line itself not being an object is INVALID_JSON.
    report = run([product(1), product(2, _set(path, value))])

    error_type, line, message = only_error(report)
    assert (error_type, line) == (ErrorType.INVALID_TYPE, 2)
    assert named in message


@pytest.mark.parametrize("block_bytes", [1024 * 1024, 256])
@pytest.mark.parametrize(
    ("bom", "ending"), [(b"", b"\n"), (b"", b"\r\n"), (b"\xef\xbb\xbf", b"\n"), (b"", b"")]
)
def test_the_line_limit_counts_the_product_not_its_crlf_ending_or_the_bom(
    block_bytes: int, bom: bytes, ending: bytes
) -> None:
    # The same product at exactly the limit passes whatever the file's line endings, and
    # one byte more fails: `\r` ends the line and the BOM is ignored, as documented.
    line = product(1)
    exact = bom + line + ending
    over = bom + product(1, _set("name", "Nasa T-Shirt!")) + ending

    at_limit = validate_stream(io.BytesIO(exact), max_line_bytes=len(line), block_bytes=block_bytes)
    past = validate_stream(io.BytesIO(over), max_line_bytes=len(line), block_bytes=block_bytes)

    assert at_limit.ok, at_limit.tally.errors()
    assert only_error(past)[:2] == (ErrorType.LINE_TOO_LONG, 1)
