"""Numbers in query parameters and path segments: only ASCII digits, and no more than a
64-bit database integer holds. `str.isdigit()` alone passed "²", which `int()` refuses (a
500), and a long enough number overflowed the database (another)."""

from __future__ import annotations

import httpx
import pytest

from heedful.core.numbers import parse_digits
from heedful.oauth.bootstrap import DevelopmentSetup
from tests.conftest import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SUPERSCRIPT_TWO = "%C2%B2"  # "²"
TOO_LONG = "9" * 30


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", 0),
        ("42", 42),
        ("9" * 18, int("9" * 18)),
        ("9" * 19, None),
        ("\u00b2", None),  # superscript two
        ("\u0661", None),  # Arabic-Indic one
        ("", None),
        ("-1", None),
        (" 1", None),
    ],
)
def test_parse_digits_takes_ascii_digits_that_fit_64_bits(raw: str, expected: int | None) -> None:
    assert parse_digits(raw) == expected


@pytest.mark.parametrize("value", [SUPERSCRIPT_TWO, TOO_LONG])
@pytest.mark.parametrize(
    "path",
    [
        "/admin/messages?limit={}",
        "/admin/privacy/requests?limit={}",
        "/admin/webhooks/no-such-webhook/deliveries?limit={}",
        "/admin/users?phone=%2B13115552368&events={}",
        "/admin/users/1/events?limit={}",
        "/admin/catalog/products?company={company}&limit={}",
    ],
)
async def test_admin_counts_that_are_not_small_ascii_numbers_are_400(
    client: httpx.AsyncClient, dev: DevelopmentSetup, path: str, value: str
) -> None:
    from heedful.core import ids

    url = path.format(value, company=ids.COMPANY.encode(dev.company.id))

    response = await client.get(url, headers=ADMIN)

    assert response.status_code == 400, response.text
    parameter = path.rsplit("&", 1)[-1].rsplit("?", 1)[-1].split("=")[0]
    assert parameter in response.json()["error"]["message"]


@pytest.mark.parametrize("value", [SUPERSCRIPT_TWO, TOO_LONG])
async def test_a_user_id_that_is_not_a_64_bit_ascii_number_is_404(
    client: httpx.AsyncClient, value: str
) -> None:
    response = await client.get(f"/admin/users/{value}/events", headers=ADMIN)

    assert response.status_code == 404, response.text
