"""Normalising, masking and hashing identifiers (pure functions)."""

from __future__ import annotations

import pytest

from heedful.errors import InvalidRequest
from heedful.identity.identifiers import CLIENT_USER_ID, EMAIL, PHONE, Identifier
from heedful.privacy import subject


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("1111111111", "US", "+11111111111"),  # the vendor's example: NANP in a US company
        ("(311) 555-2368", "US", "+13115552368"),
        ("+1 311 555 2368", "US", "+13115552368"),
        ("+447700900123", "US", "+447700900123"),
        ("07700 900123", "GB", "+447700900123"),  # a national number of a GB company
        ("011 44 7700 900123", "US", "+447700900123"),  # dialled from the US
        ("+2901234", "US", "+2901234"),
    ],
)
def test_phones_become_e164(raw: str, region: str, e164: str) -> None:
    assert subject.phone(raw, region) == Identifier(PHONE, e164)


@pytest.mark.parametrize(
    "raw", ["12", "11111111111", "+1 800 FLOWERS", "1-800-356-9377 ext 2", "3+11", "+", ""]
)
def test_ambiguous_or_impossible_phones_are_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest, match="subjectPhone must be a phone number"):
        subject.phone(raw, "US")


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+5555555555", "+*****5555"),  # the vendor's example
        ("+13115552368", "+*****2368"),
        ("+447700900123", "+*****0123"),  # non-US: same rule, the length is not shown
        ("+2901234", "+*****234"),  # short: never more than half of the digits
        ("+123", "+*****3"),
    ],
)
def test_phone_masks(e164: str, masked: str) -> None:
    assert subject.mask_phone(e164) == masked


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("abc@website.com", "a**@website.com"),  # the vendor's example
        ("alexander.hamilton@website.com", "a**@website.com"),  # the length is not shown
        ("ab@website.com", "**@website.com"),  # short local parts show nothing
        ("a@website.com", "**@website.com"),
    ],
)
def test_email_masks(address: str, masked: str) -> None:
    assert subject.mask_email(address) == masked


def test_emails_are_lowercased_before_masking_and_hashing() -> None:
    item = subject.email("  Abc@Website.COM ")

    assert item == Identifier(EMAIL, "abc@website.com")
    assert subject.mask(item) == "a**@website.com"


def test_keyed_hash_depends_on_the_key_and_the_kind() -> None:
    phone = Identifier(PHONE, "+13115552368")

    digest = subject.keyed_hash(b"k1", phone)
    assert len(digest) == 64 and digest == subject.keyed_hash(b"k1", phone)
    assert digest != subject.keyed_hash(b"k2", phone)
    assert digest != subject.keyed_hash(b"k1", Identifier("clientUserId", "+13115552368"))
    assert "3115552368" not in digest


def test_redact_replaces_identifiers_in_any_case() -> None:
    items = (Identifier(EMAIL, "abc@website.com"), Identifier(PHONE, "+13115552368"))

    text = subject.redact("From ABC@Website.com, phone +13115552368.", items)

    assert text == "From a**@website.com, phone +*****2368."


@pytest.mark.parametrize(
    "written",
    [
        "+13115552368",
        "+1 (311) 555-2368",
        "(311) 555-2368",
        "311.555.2368",
        "311 555 2368",
        "1-311-555-2368",
        "3115552368",
        "001 311 555 2368",
    ],
)
def test_redact_finds_a_phone_however_it_is_written(written: str) -> None:
    items = (Identifier(PHONE, "+13115552368"),)

    assert subject.redact(f"Call {written} now", items) == "Call +*****2368 now"


def test_redact_leaves_longer_numbers_that_contain_the_phone() -> None:
    items = (Identifier(PHONE, "+13115552368"),)

    assert subject.redact("order 23115552368, ref 31155523680", items) == (
        "order 23115552368, ref 31155523680"
    )


def test_redact_masks_other_identifier_values_like_a_client_user_id() -> None:
    items = (Identifier(CLIENT_USER_ID, "shop99887766"),)

    assert subject.redact("Shopify SHOP99887766.", items) == "Shopify *****66."
