from __future__ import annotations

import shlex

from heedful.core.crypto import hash_secret
from heedful.oauth import service
from heedful.runtime import Runtime
from tests.cli.conftest import Heedful
from tests.cli.support import ADMIN_KEY, created_company_id, decode_company_id, lines, succeeded


def test_create_prints_the_vendor_style_id_and_an_admin_key(
    heedful: Heedful, runtime: Runtime
) -> None:
    result = succeeded(
        heedful(
            "company create 'Hudson & Ivy' "
            "--domain hudsonivy.attn.tv --contact-email ops@hudsonivy.example"
        )
    )

    with runtime.db.transaction() as session:
        (company,) = service.list_companies(session)
    first, label, admin_key = lines(result)
    assert first == f"Created company Hudson & Ivy ({created_company_id(result)})"
    assert decode_company_id(created_company_id(result)) == f"07:Company{company.id}"
    assert label.startswith("Admin key")
    assert ADMIN_KEY.fullmatch(admin_key), admin_key  # whole, on one line, in a narrow terminal
    assert company.admin_key_hash == hash_secret(admin_key)
    assert (company.domain, company.contact_email) == (
        "hudsonivy.attn.tv",
        "ops@hudsonivy.example",
    )


def test_list_shows_every_company(heedful: Heedful) -> None:
    first = created_company_id(succeeded(heedful("company create 'First Shop'")))
    second = created_company_id(succeeded(heedful("company create Second")))

    listing = succeeded(heedful("company list", env={"COLUMNS": "120"})).stdout

    for public_id, name in ((first, "First Shop"), (second, "Second")):
        row = next(row for row in listing.splitlines() if public_id in row)
        assert name in row


def test_list_keeps_ids_whole_in_a_narrow_terminal(heedful: Heedful) -> None:
    created = succeeded(heedful("company create 'A rather long company name indeed'"))

    listing = succeeded(heedful("company list")).stdout

    assert created_company_id(created) in listing


def test_names_are_printed_verbatim_not_as_markup(heedful: Heedful) -> None:
    name = "Shop [bold]x[/bold] [/oops] :tada:"

    created = succeeded(heedful(f"company create {shlex.quote(name)}"))
    listing = succeeded(heedful("company list", env={"COLUMNS": "200"}))

    assert created.stdout.startswith(f"Created company {name} (")
    assert name in listing.stdout


def test_list_without_companies_says_so(heedful: Heedful) -> None:
    assert "No companies yet" in succeeded(heedful("company list")).stdout
