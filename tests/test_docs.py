"""The user docs against the code: every setting in a settings table, with its real default."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from heedful.config import Settings

ROOT = Path(__file__).resolve().parent.parent
# docs/performance.md is a record of benchmark runs, not documentation of settings.
PAGES = [
    ROOT / "README.md",
    *sorted(p for p in (ROOT / "docs").glob("*.md") if p.stem != "performance"),
]
TABLE_HEADER = "| Variable | Default | Meaning |"
VARIABLE = re.compile(r"`(HEEDFUL_[A-Z0-9_]+)`")
LITERAL = re.compile(r"^`([^`]*)`")
# Defaults the docs give as what they stand for rather than as a value.
DERIVED = {"HEEDFUL_BASE_URL": "`http://HOST:PORT`"}


@functools.cache
def documented_defaults() -> dict[str, str]:
    """HEEDFUL_* name -> the Default cell's text for it, from every settings table."""
    found: dict[str, str] = {}
    for page in PAGES:
        in_table = False
        for line in page.read_text("utf-8").splitlines():
            if line.startswith(TABLE_HEADER):
                in_table = True
                continue
            if not in_table or not line.startswith("|"):
                in_table = False
                continue
            cells = [cell.strip() for cell in line.strip("|").split("|")]
            if set(cells[0]) <= {"-", " "}:
                continue
            names = VARIABLE.findall(cells[0])
            # "`a`, `b`" gives each name its own default; one default is shared by all.
            defaults = [d.strip() for d in cells[1].split(", ")] if len(names) > 1 else [cells[1]]
            if len(defaults) == 1:
                defaults *= len(names)
            assert names and len(defaults) == len(names), f"{page.name}: {line}"
            for name, default in zip(names, defaults, strict=True):
                # A setting may be listed twice (README and its area's page), alike.
                assert found.setdefault(name, default) == default, f"{name}: two defaults"
    return found


def setting_names() -> dict[str, str]:
    return {f"HEEDFUL_{field.upper()}": field for field in Settings.model_fields}


def test_every_setting_is_in_a_settings_table_and_every_row_is_a_setting() -> None:
    documented = set(documented_defaults())
    known = set(setting_names())

    assert not known - documented, f"settings missing from the docs: {sorted(known - documented)}"
    assert not documented - known, f"documented, not settings: {sorted(documented - known)}"


@pytest.mark.parametrize("name", sorted(setting_names()))
def test_the_documented_default_is_the_real_one(name: str) -> None:
    text = documented_defaults().get(name)
    if text is None:
        pytest.skip("not documented (the test above names it)")
    field = Settings.model_fields[setting_names()[name]]
    default = field.get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        default = default.get_secret_value()
    if name in DERIVED:
        assert text == DERIVED[name]
        return
    literal = LITERAL.match(text)
    if literal is None:  # "unset", "none", "random ...": no value of its own
        assert default in (None, "", [], {}), f"{name}: docs say {text!r}, code has {default!r}"
    elif isinstance(default, int | float):
        assert float(literal.group(1)) == default, f"{name}: docs {text!r}, code {default!r}"
    elif isinstance(default, dict | list):
        assert json.loads(literal.group(1)) == default, f"{name}: docs {text!r}"
    else:
        assert literal.group(1) == default, f"{name}: docs {text!r}, code {default!r}"
