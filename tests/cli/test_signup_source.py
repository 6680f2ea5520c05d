from __future__ import annotations

from heedful.oauth.bootstrap import DevelopmentSetup
from heedful.runtime import Runtime
from heedful.subscriptions import service
from tests.cli.conftest import Heedful
from tests.cli.support import succeeded


def test_list_keeps_ids_whole_in_a_narrow_terminal(
    heedful: Heedful, runtime: Runtime, dev: DevelopmentSetup
) -> None:
    # The README sends users here for the `signUpSourceId` of POST /v1/subscriptions.
    with runtime.db.read() as session:
        ids = [
            service.signup_source_view(source)["id"]
            for source in service.list_signup_sources(session, dev.company.id)
        ]

    listing = succeeded(heedful("signup-source list")).stdout

    assert ids and all(source_id in listing for source_id in ids), listing
