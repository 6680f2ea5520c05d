"""The delivery engine against a real receiver on 127.0.0.1 that checks signatures itself."""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import Table

from heedful.core.clock import FrozenClock
from heedful.privacy.erasure import delete_tree
from heedful.runtime import Runtime
from heedful.storage.models.webhooks import WebhookDelivery
from heedful.webhooks import service
from heedful.webhooks.dispatcher import DeliveryPolicy, Dispatcher
from tests.factories import make_company
from tests.storage.plans import force_rescan_plan
from tests.webhooks.receiver import Receiver
from tests.webhooks.support import attempts, deliveries, emit, make_webhook, webhook_row


def test_a_delivery_is_signed_and_recorded(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime, "Hudson & Ivy")
    hook = make_webhook(runtime, company.id, receiver.url("/hook"))
    receiver.expect_key("/hook", hook.signing_key)

    assert emit(runtime, company.id) == 1
    assert dispatcher.run_once() == 1

    [got] = receiver.received()
    assert got.signature_valid
    assert got.headers["content-type"] == "application/json"
    assert got.headers["host"] == f"127.0.0.1:{receiver.port}"
    assert got.payload["type"] == "sms.sent"
    assert got.payload["company"]["display_name"] == "Hudson & Ivy"
    [delivery] = deliveries(runtime)
    assert delivery.state == "succeeded"
    assert delivery.body.encode() == got.body
    assert got.delivery_id == delivery.public_id
    [attempt] = attempts(runtime)
    assert attempt.succeeded and attempt.status_code == 200 and attempt.error is None
    assert attempt.response_body == '{"ok": true}'
    assert attempt.latency_ms > 0
    assert attempt.attempted_at == clock.now()
    assert dispatcher.run_once() == 0


def test_a_wrong_key_fails_the_receivers_check(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url("/hook"))
    receiver.expect_key("/hook", "not-the-signing-key")

    emit(runtime, company.id)
    dispatcher.run_once()

    assert [r.signature_valid for r in receiver.received()] == [False]


def test_500_twice_then_200_is_three_attempts_and_one_success(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    hook = make_webhook(runtime, company.id, receiver.url("/flaky"))
    receiver.expect_key("/flaky", hook.signing_key)
    receiver.script("/flaky", 500, 500)
    emit(runtime, company.id)

    assert dispatcher.run_once() == 1
    [delivery] = deliveries(runtime)
    assert delivery.state == "pending" and delivery.last_status_code == 500
    # Backoff with jitter: the first retry comes 5-10 s later, the second 10-20 s after that.
    assert timedelta(seconds=5) <= delivery.next_attempt_at - clock.now() <= timedelta(seconds=10)
    assert dispatcher.run_once() == 0
    clock.advance(10)
    assert dispatcher.run_once() == 1
    assert dispatcher.run_once() == 0
    clock.advance(20)
    assert dispatcher.run_once() == 1
    clock.advance(3600)
    assert dispatcher.run_once() == 0

    got = receiver.received()
    assert [r.signature_valid for r in got] == [True, True, True]
    assert len({r.delivery_id for r in got}) == 1
    assert len({r.body for r in got}) == 1
    tries = attempts(runtime)
    assert [(a.number, a.status_code, a.succeeded) for a in tries] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert tries[0].error == "HTTP 500"
    [delivery] = deliveries(runtime)
    assert (delivery.state, delivery.attempts) == ("succeeded", 3)
    assert webhook_row(runtime, hook.id).consecutive_failures == 0


def test_a_receiver_that_times_out_is_retried(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url("/slow"))
    receiver.script("/slow", (200, 2.0))  # the policy's timeout is 0.5 s
    emit(runtime, company.id)

    dispatcher.run_once()
    clock.advance(10)
    dispatcher.run_once()

    first, second = attempts(runtime)
    assert first.status_code is None and first.error == "timed out after 0.5s"
    assert 400 <= first.latency_ms < 1500
    assert second.succeeded
    assert len(receiver.received("/slow")) == 2


def test_a_connection_error_is_recorded_and_retried(
    runtime: Runtime, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, "http://127.0.0.1:9/nothing-listens-here")
    emit(runtime, company.id)

    dispatcher.run_once()

    [attempt] = attempts(runtime)
    assert attempt.status_code is None and attempt.error
    assert attempt.error.startswith("connection failed: ")
    assert deliveries(runtime)[0].state == "pending"


def test_only_the_first_2kb_of_the_response_body_is_kept(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    receiver.response_body = b"x" * 10_000
    emit(runtime, company.id)

    dispatcher.run_once()

    assert attempts(runtime)[0].response_body == "x" * 2048


def test_a_response_body_holding_nul_bytes_is_recorded_without_them(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    """PostgreSQL text cannot hold NUL (SQLite's can): recording the attempt failed there, so
    the delivery stayed claimed and was sent again once its lease ran out."""
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    receiver.response_body = b"ok\x00done"
    emit(runtime, company.id)

    assert dispatcher.run_once() == 1

    [attempt] = attempts(runtime)
    assert attempt.succeeded and attempt.response_body == "ok\ufffddone"
    assert deliveries(runtime)[0].state == "succeeded"
    assert len(receiver.received()) == 1


def test_disabled_and_deleted_webhooks_receive_nothing(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    disabled = make_webhook(runtime, company.id, receiver.url("/disabled"))
    deleted = make_webhook(runtime, company.id, receiver.url("/deleted"))
    with runtime.db.transaction() as session:
        service.update_webhook(
            session, clock, company.id, disabled.public_id, disabled=True, development=True
        )
        service.delete_webhook(session, clock, company.id, deleted.public_id)

    assert emit(runtime, company.id) == 0
    assert dispatcher.run_once() == 0
    assert receiver.received() == []


def test_pending_retries_stop_when_the_webhook_is_deleted_or_disabled(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    to_delete = make_webhook(runtime, company.id, receiver.url("/a"))
    to_disable = make_webhook(runtime, company.id, receiver.url("/b"))
    receiver.script("/a", 503)
    receiver.script("/b", 503)
    assert emit(runtime, company.id) == 2
    dispatcher.run_once()
    assert [d.state for d in deliveries(runtime)] == ["pending", "pending"]

    with runtime.db.transaction() as session:
        service.delete_webhook(session, clock, company.id, to_delete.public_id)
        service.update_webhook(
            session, clock, company.id, to_disable.public_id, disabled=True, development=True
        )
    clock.advance(3600)

    assert dispatcher.run_once() == 0
    assert len(receiver.received()) == 2  # only the two first attempts
    assert [d.state for d in deliveries(runtime)] == ["cancelled", "cancelled"]
    # Re-enabling does not resurrect abandoned retries.
    with runtime.db.transaction() as session:
        service.update_webhook(
            session, clock, company.id, to_disable.public_id, disabled=False, development=True
        )
    assert dispatcher.run_once() == 0


def test_a_webhook_disabled_while_its_delivery_is_claimed_gets_nothing(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    hook = make_webhook(runtime, company.id, receiver.url())
    emit(runtime, company.id)
    # The delivery is due; the webhook is disabled before any dispatcher gets to it, by a
    # path that does not cancel (simulating the race): the claim itself must refuse it.
    with runtime.db.transaction() as session:
        row = session.get(type(webhook_row(runtime, hook.id)), hook.id)
        assert row is not None
        row.disabled_at = clock.now()

    assert dispatcher.run_once() == 0
    assert receiver.received() == []
    assert deliveries(runtime)[0].state == "cancelled"


def test_a_delivery_deleted_while_its_batch_is_in_flight_loses_no_other_outcome(
    runtime: Runtime,
    receiver: Receiver,
    dispatcher: Dispatcher,
    clock: FrozenClock,
    policy: DeliveryPolicy,
) -> None:
    """Bug: the batch's outcomes were recorded in one transaction, with an attempt row for
    each; a delivery deleted meanwhile (an erasure of its subject, once the lease had run out)
    made the attempt's foreign key fail and the whole transaction with it, so the other
    deliveries' outcomes were lost and, once their lease ran out, they were sent again."""
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url("/a"))
    hook_b = make_webhook(runtime, company.id, receiver.url("/b"))
    emit(runtime, company.id)
    [doomed] = [d.id for d in deliveries(runtime) if d.webhook_id == hook_b.id]

    def erase_the_other(path: str) -> None:
        if path != "/a":
            return
        # The lease runs out while the batch is in flight; an erasure then deletes the other
        # delivery as _scrub_deliveries does (its "being sent" guard no longer holds it off).
        clock.advance(policy.lease.total_seconds() + 1)
        table = WebhookDelivery.__table__
        assert isinstance(table, Table)
        with runtime.db.transaction() as session:
            delete_tree(session, company.id, table, table.c.id == doomed, Counter())

    receiver.on_request = erase_the_other
    assert dispatcher.run_once() == 2
    receiver.on_request = None

    [kept] = deliveries(runtime)
    assert kept.id != doomed
    assert kept.state == "succeeded"
    assert [(a.delivery_id, a.succeeded) for a in attempts(runtime)] == [(kept.id, True)]
    clock.advance(policy.lease.total_seconds() + 1)
    assert dispatcher.run_until_idle() == 0
    assert len(receiver.received("/a")) == 1


def test_events_of_one_company_never_reach_another_companys_webhook(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    a, b = make_company(runtime, "A"), make_company(runtime, "B")
    make_webhook(runtime, a.id, receiver.url("/a"))
    make_webhook(runtime, b.id, receiver.url("/b"))

    assert emit(runtime, a.id) == 1
    dispatcher.run_until_idle()

    assert [r.path for r in receiver.received()] == ["/a"]
    assert receiver.received()[0].payload["company"]["display_name"] == "A"


def test_only_webhooks_subscribed_to_the_event_type_get_it(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url("/sent"), ["sms.sent"])
    make_webhook(runtime, company.id, receiver.url("/attrs"), ["custom_attribute.set"])
    make_webhook(runtime, company.id, receiver.url("/both"), ["custom_attribute.set", "sms.sent"])

    assert emit(runtime, company.id) == 2
    dispatcher.run_until_idle()

    assert sorted(r.path for r in receiver.received()) == ["/both", "/sent"]


def test_deliveries_pending_at_shutdown_are_delivered_after_restart(
    runtime: Runtime, receiver: Receiver, policy: DeliveryPolicy, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    emit(runtime, company.id)
    emit(runtime, company.id)
    # The first process claims both, then dies before sending or recording anything.
    crashed = Dispatcher(runtime.db, clock, policy)
    assert len(crashed._claim(10)) == 2
    emit(runtime, company.id)  # a third, written while nothing was running

    restarted = Dispatcher(runtime.db, clock, policy)
    assert restarted.run_until_idle() == 1  # the claimed two are leased to the dead process
    clock.advance(policy.lease + timedelta(seconds=1))
    assert restarted.run_until_idle() == 2

    assert len(receiver.received()) == 3
    assert len({r.delivery_id for r in receiver.received()}) == 3
    assert {d.state for d in deliveries(runtime)} == {"succeeded"}


def test_a_claim_takes_at_most_its_limit_whatever_the_plan(
    runtime: Runtime, receiver: Receiver, policy: DeliveryPolicy, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    for _ in range(6):
        emit(runtime, company.id)
    force_rescan_plan(runtime.db, "webhook_deliveries")
    dispatcher = Dispatcher(runtime.db, clock, policy)

    assert [len(dispatcher._claim(2)) for _ in range(4)] == [2, 2, 2, 0]


def test_retries_end_when_the_window_is_used_up(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url("/down"))
    receiver.script("/down", *([500] * 100))
    emit(runtime, company.id)

    for _ in range(60):
        dispatcher.run_once()
        clock.advance(600)  # the policy's cap

    [delivery] = deliveries(runtime)
    assert delivery.state == "failed" and delivery.next_attempt_at is None
    tries = attempts(runtime)
    # Within the one-hour window: 10-ish, 20, 40, 80, 160, 320 s, then every 300-600 s.
    assert 6 <= len(tries) <= 14
    assert tries[-1].attempted_at - delivery.created_at <= timedelta(hours=1)
    assert len(receiver.received()) == len(tries)


def test_a_webhook_is_disabled_after_a_run_of_failures(
    runtime: Runtime, receiver: Receiver, policy: DeliveryPolicy, clock: FrozenClock
) -> None:
    strict = dataclasses.replace(policy, disable_after_failures=3, disable_after_seconds=20)
    dispatcher = Dispatcher(runtime.db, clock, strict, rng=random.Random(1))
    company = make_company(runtime)
    hook = make_webhook(runtime, company.id, receiver.url("/down"))
    receiver.script("/down", *([500] * 100))
    emit(runtime, company.id)
    emit(runtime, company.id)

    dispatcher.run_once()  # two failures, at t=0
    assert webhook_row(runtime, hook.id).disabled_at is None
    clock.advance(60)
    dispatcher.run_once()  # four failures over 60 s: past both limits

    row = webhook_row(runtime, hook.id)
    assert row.disabled_at == clock.now() and row.consecutive_failures == 4
    assert {d.state for d in deliveries(runtime)} == {"cancelled"}
    clock.advance(3600)
    assert dispatcher.run_once() == 0
    assert emit(runtime, company.id) == 0


def test_a_success_resets_the_run_of_failures(
    runtime: Runtime, receiver: Receiver, dispatcher: Dispatcher, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    hook = make_webhook(runtime, company.id, receiver.url("/x"))
    receiver.script("/x", 500)
    emit(runtime, company.id)
    dispatcher.run_once()
    row = webhook_row(runtime, hook.id)
    assert row.consecutive_failures == 1 and row.failing_since == clock.now()

    clock.advance(10)
    dispatcher.run_once()

    row = webhook_row(runtime, hook.id)
    assert row.consecutive_failures == 0 and row.failing_since is None


def test_production_refuses_loopback_targets_unless_allow_listed(
    runtime: Runtime, receiver: Receiver, policy: DeliveryPolicy, clock: FrozenClock
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    production = dataclasses.replace(policy, development=False)
    emit(runtime, company.id)

    Dispatcher(runtime.db, clock, production).run_once()

    [attempt] = attempts(runtime)
    assert attempt.error is not None and attempt.error.startswith("refused: ")
    assert "loopback" in attempt.error
    assert receiver.received() == []

    allowed = dataclasses.replace(production, allow_hosts=("127.0.0.0/8",))
    clock.advance(10)
    Dispatcher(runtime.db, clock, allowed).run_once()
    assert len(receiver.received()) == 1


def test_a_running_dispatcher_delivers_right_after_the_commit(
    runtime: Runtime, receiver: Receiver, policy: DeliveryPolicy
) -> None:
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    # A long poll interval: only the commit's wake-up can make this fast.
    slow_poll = dataclasses.replace(policy, poll_interval=30.0)
    dispatcher = Dispatcher(runtime.db, runtime.clock, slow_poll)
    stop = threading.Event()
    thread = threading.Thread(target=dispatcher.run_forever, args=(stop,))
    thread.start()
    try:
        receiver.wait_for(0, timeout=0.2)  # let it reach its first wait
        for _ in range(5):
            emit(runtime, company.id)
        got = receiver.wait_for(5, timeout=5)
    finally:
        stop.set()
        thread.join(timeout=40)
    assert len(got) == 5
    assert not thread.is_alive()


def test_two_dispatchers_deliver_each_event_exactly_once(
    runtime: Runtime, receiver: Receiver, policy: DeliveryPolicy, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("concurrent claims are a PostgreSQL matter (SQLite serialises writers)")
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    small = dataclasses.replace(policy, batch_size=7, concurrency=8, poll_interval=0.01)
    stop = threading.Event()
    threads = [
        threading.Thread(
            target=Dispatcher(runtime.db, runtime.clock, small).run_forever, args=(stop,)
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(150):
            emit(runtime, company.id)
        got = receiver.wait_for(150, timeout=20)
        receiver.wait_for(151, timeout=0.3)  # room for a duplicate to show up
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    got = receiver.received()
    assert len(got) == 150
    assert len({r.delivery_id for r in got}) == 150
    assert {d.state for d in deliveries(runtime)} == {"succeeded"}
    assert len(attempts(runtime)) == 150


def test_deliveries_waiting_behind_slow_ones_are_not_claimed_again_while_their_dispatcher_lives(
    runtime: Runtime, receiver: Receiver, policy: DeliveryPolicy, clock: FrozenClock
) -> None:
    # A claimed batch is sent `concurrency` at a time: its last delivery waits for the ones
    # before it. Each POST here takes 9 s (of the test's clock; within the 10 s timeout), so
    # the 9th delivery of the batch starts 72 s after the claim.
    company = make_company(runtime)
    make_webhook(runtime, company.id, receiver.url())
    for _ in range(10):
        emit(runtime, company.id)
    receiver.on_request = lambda path: clock.advance(timedelta(seconds=9))
    slow = dataclasses.replace(
        policy, timeout=10.0, batch_size=10, concurrency=1, poll_interval=0.01
    )
    stop = threading.Event()
    thread = threading.Thread(target=Dispatcher(runtime.db, clock, slow).run_forever, args=(stop,))
    thread.start()
    try:
        receiver.wait_for(10)
        receiver.wait_for(11, timeout=0.5)  # room for a second copy to show up
    finally:
        stop.set()
        thread.join(timeout=30)

    sent = Counter(r.delivery_id for r in receiver.received())
    assert len(sent) == 10
    assert set(sent.values()) == {1}, f"sent more than once: {sent.most_common(3)}"
    assert [(d.state, d.attempts) for d in deliveries(runtime)] == [("succeeded", 1)] * 10
    assert len(attempts(runtime)) == 10
