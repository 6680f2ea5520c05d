"""The vendor's sample upload script (from the spec) runs unchanged against heedful, except
for `API_BASE_URL` and the key; and `curl --upload-file` works on the upload URL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from heedful.runtime import Runtime
from heedful.spec import load_spec
from tests.catalog.live import LiveServer
from tests.catalog.support import ndjson, product

# The script sleeps STATUS_INTERVAL (10 s) between polls; the test shortens each sleep to
# 50 ms from outside, leaving the script's text as published.
RUNNER = """
import runpy, sys, time
_sleep = time.sleep
time.sleep = lambda seconds: _sleep(0.05)
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def sample_script(base_url: str, api_key: str) -> str:
    tag = next(t for t in load_spec()["tags"] if t["name"] == "Product Catalog")
    text = tag["description"].split("```python", 1)[1].split("```", 1)[0]
    original_base = "API_BASE_URL = 'https://api.attentivemobile.com'"
    original_key = "API_KEY = ''  # Set this"
    assert original_base in text and original_key in text
    return text.replace(original_base, f"API_BASE_URL = {base_url!r}").replace(
        original_key, f"API_KEY = {api_key!r}"
    )


def test_the_vendor_sample_script_uploads_and_waits_for_validation(
    runtime: Runtime, dev_headers: dict[str, str], tmp_path: Path
) -> None:
    key = dev_headers["Authorization"].removeprefix("Bearer ")
    catalog = tmp_path / "catalog.ndjson"
    catalog.write_bytes(ndjson([product(1), product(2), b'{"id": 1}']))
    with LiveServer(runtime) as server:
        script = tmp_path / "upload_catalog.py"
        script.write_text(sample_script(server.url, key))
        done = subprocess.run(
            [sys.executable, "-c", RUNNER, str(script), str(catalog)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        uploads = httpx.get(f"{server.url}/v1/product-catalog/uploads", headers=dev_headers)

    assert done.returncode == 0, done.stderr
    assert "Validation Errors:" in done.stdout
    printed = json.loads(done.stdout.strip().splitlines()[-1])
    assert printed["lineNum"] == 3
    [upload] = uploads.json()
    assert (upload["status"], upload["validateOnly"]) == ("validated", True)
    assert (upload["productsReceived"], upload["productsProcessed"]) == (3, 2)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_upload_file_works_on_the_upload_url(
    runtime: Runtime, dev_headers: dict[str, str], tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.ndjson"
    catalog.write_bytes(ndjson([product(1)]))
    with LiveServer(runtime) as server:
        started = httpx.post(
            f"{server.url}/v1/product-catalog/uploads",
            json={"validateOnly": True},
            headers=dev_headers,
        ).json()
        curl = subprocess.run(
            [
                "curl",
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--upload-file",
                str(catalog),
                started["uploadUrl"],
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert curl.stdout == "200", curl.stderr
