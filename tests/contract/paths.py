"""Files the contract tests compare against."""

from __future__ import annotations

from pathlib import Path

import heedful.spec

ROOT = Path(__file__).resolve().parents[2]
SPEC_FILE = Path(heedful.spec.__file__).with_name("attentive-v1.json")
# The team's copy of the vendor contract, beside the repository when it is checked out there.
SHARED_SPEC = ROOT.parent / "shared" / "spec" / "attentive-v1.json"
COVERAGE_DOC = ROOT / "docs" / "coverage.md"
