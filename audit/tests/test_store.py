"""The audit store: each event stored once at the end of its user's chain, never changed; the chains
checked by audit_verify, which names the first row that breaks however the history was tampered with."""

import datetime
import json
import uuid

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction

from audit import services
from audit.models import AuditEvent, ChainHead, Seal
from audit.selectors import audit_verify
from tests.helpers import wallet_event

pytestmark = pytest.mark.django_db


def _record(event: dict, offset: int = 0) -> str:
    return services.audit_event_record(services.Received(event=event, topic="wallet-events", partition=0,
                                                         offset=offset))


def _history(user_id: int, count: int = 5, start: datetime.datetime | None = None) -> list[dict]:
    start = start or datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=count)
    events = [wallet_event(user_id, occurredAt=(start + datetime.timedelta(minutes=i)).isoformat())
              for i in range(count)]
    for offset, event in enumerate(events):
        assert _record(event, offset) == "stored"
    return events


def _as_superuser(sql: str, params=()) -> None:
    """What someone with the database's keys could do: the append-only trigger switched off."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")  # triggers do not fire
        cursor.execute(sql, params)


def test_each_event_is_stored_once_at_the_end_of_its_users_chain(user_factory):
    first, second = user_factory(), user_factory()
    events = _history(first.id, 3) + _history(second.id, 2)
    assert _record(events[1]) == "duplicate"  # a redelivery
    assert AuditEvent.objects.count() == 5
    chain = list(AuditEvent.objects.filter(user_id=first.id).order_by("seq"))
    assert [row.seq for row in chain] == [1, 2, 3]
    assert chain[0].previous_hash == "0" * 64
    assert [row.previous_hash for row in chain[1:]] == [row.hash for row in chain[:-1]]
    assert (chain[1].kafka_topic, chain[1].kafka_offset, chain[1].payload) == ("wallet-events", 1, events[1])
    assert ChainHead.objects.get(user_id=first.id).hash == chain[-1].hash
    assert audit_verify() == []


def test_any_text_is_stored_as_it_came_and_checks_out(user):
    """The rows go to COPY as text lines: quotes, backslashes, JSON's escapes of newlines and tabs,
    Korean and emoji come back exactly, and the chain verifies; an occurredAt of another zone is
    stored as its UTC moment."""
    tricky = 'a "quoted" \\ back\\slash, a\nnew line, a\ttab, \\N, 한글 주문, 😀 \u2028'
    events = [wallet_event(user.id, orderId=tricky, paymentKey="\\\\server\\share"),
              wallet_event(user.id, occurredAt="2026-12-07T09:30:00+09:00"),
              wallet_event(user.id, occurredAt="2026-12-07T00:30:00.5Z")]
    assert services.audit_events_record([services.Received(event=e, topic="wallet-events", partition=1, offset=i)
                                         for i, e in enumerate(events)]) == ["stored"] * 3
    rows = list(AuditEvent.objects.filter(user_id=user.id).order_by("seq"))
    assert [row.payload for row in rows] == events
    assert rows[0].payload["orderId"] == tricky
    assert [row.occurred_at for row in rows[1:]] == [
        datetime.datetime(2026, 12, 7, 0, 30, tzinfo=datetime.UTC),
        datetime.datetime(2026, 12, 7, 0, 30, 0, 500_000, tzinfo=datetime.UTC)]
    assert audit_verify() == []


def test_a_rows_content_is_the_canonical_json_of_its_fields():
    """audit_content writes the canonical JSON out by hand (no field serialised twice): it must be
    exactly what json.dumps with sorted keys gives, non-ASCII and escapes included."""
    event = wallet_event(7, orderId='주문 "1"\\/\n', paymentKey="ключ")
    moment = datetime.datetime(2026, 12, 6, 22, 30, 1, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=9)))
    fields = {"eventId": event["eventId"], "userId": 7, "eventType": event["eventType"],
              "occurredAt": services.audit_time(moment), "payload": event, "kafka": ["wallet-events", 3, 1_234],
              "receivedAt": services.audit_time(moment)}
    assert services.audit_time(moment) == "2026-12-06T13:30:01.000005+00:00"
    assert services.audit_content(
        event_id=uuid.UUID(event["eventId"]), user_id=7, event_type=event["eventType"],
        occurred_at=fields["occurredAt"], payload=services.audit_payload(event), topic="wallet-events",
        partition=3, offset=1_234, received_at=fields["receivedAt"],
    ) == json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def test_rows_are_never_changed_or_deleted(user):
    _history(user.id, 1)
    for sql in ("UPDATE audit_auditevent SET event_type = 'X'", "DELETE FROM audit_auditevent"):
        with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    services.audit_seal()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_seal")


def test_an_event_of_a_month_without_its_partition_gets_one(user):
    long_ago = datetime.datetime(2019, 3, 5, 12, 0, tzinfo=datetime.UTC)
    _history(user.id, 1, start=long_ago)
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM audit_auditevent")
        assert cursor.fetchone()[0] == "audit_auditevent_p201903"


@pytest.mark.parametrize("tampering", ["edit", "delete", "insert", "reorder", "cut the tail"])
def test_audit_verify_names_the_first_row_that_breaks(user_factory, tampering):
    victim, bystander = user_factory(), user_factory()
    _history(victim.id, 5)
    _history(bystander.id, 3)
    rows = list(AuditEvent.objects.filter(user_id=victim.id).order_by("seq"))
    third = rows[2]
    if tampering == "edit":
        _as_superuser("UPDATE audit_auditevent SET payload = jsonb_set(payload, '{newBalance}', '999999') "
                      "WHERE event_id = %s", [third.event_id])
        expected = (3, "content does not match")
    elif tampering == "delete":
        _as_superuser("DELETE FROM audit_auditevent WHERE event_id = %s", [third.event_id])
        expected = (3, "is missing")
    elif tampering == "insert":  # a forged row slipped in after #2, the later ones renumbered
        _as_superuser("UPDATE audit_auditevent SET seq = seq + 1 WHERE user_id = %s AND seq >= 3", [victim.id])
        forged = rows[1]
        _as_superuser(
            "INSERT INTO audit_auditevent SELECT %s, user_id, 3, event_type, occurred_at, payload, kafka_topic, "
            "kafka_partition, kafka_offset, received_at, hash, hash FROM audit_auditevent WHERE event_id = %s",
            [uuid.uuid4(), forged.event_id])
        expected = (3, "content does not match")
    elif tampering == "reorder":
        _as_superuser("UPDATE audit_auditevent SET seq = CASE seq WHEN 3 THEN 4 ELSE 3 END "
                      "WHERE user_id = %s AND seq IN (3, 4)", [victim.id])
        expected = (3, "previous hash")
    else:
        _as_superuser("DELETE FROM audit_auditevent WHERE event_id = %s", [rows[-1].event_id])
        expected = (5, "rows are missing")
    (found,) = audit_verify()
    assert (found.user_id, found.seq) == (victim.id, expected[0]), found
    assert expected[1] in found.reason, found
    assert audit_verify(user_id=bystander.id) == []
    with pytest.raises(CommandError, match="1 chain"):
        call_command("audit_verify")


def test_a_rewrite_that_recomputes_every_hash_is_caught_by_the_seals(user):
    _history(user.id, 4)
    services.audit_seal()
    # A careful forger: changes #2, then recomputes every hash after it and the chain head.
    rows = list(AuditEvent.objects.filter(user_id=user.id).order_by("seq"))
    previous = rows[0].hash
    for row in rows[1:]:
        payload = dict(row.payload, newBalance=1) if row.seq == 2 else row.payload
        content = services.audit_content(
            event_id=row.event_id, user_id=row.user_id, event_type=row.event_type,
            occurred_at=services.audit_time(row.occurred_at), payload=services.audit_payload(payload),
            topic=row.kafka_topic, partition=row.kafka_partition, offset=row.kafka_offset,
            received_at=services.audit_time(row.received_at))
        new_hash = services.chain_hash(previous, content)
        _as_superuser("UPDATE audit_auditevent SET payload = %s::jsonb, previous_hash = %s, hash = %s "
                      "WHERE event_id = %s", [json.dumps(payload), previous, new_hash, row.event_id])
        previous = new_hash
    ChainHead.objects.filter(user_id=user.id).update(hash=previous)
    (found,) = audit_verify()
    assert (found.user_id, found.seq) == (user.id, 4)
    assert "history rewritten" in found.reason
    assert Seal.objects.count() == 1


def test_verify_a_period_starts_from_the_row_before_it(user):
    start = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    _history(user.id, 6, start=start)
    middle = start + datetime.timedelta(minutes=3)
    assert audit_verify(user_id=user.id, start=middle, end=middle + datetime.timedelta(minutes=2)) == []
    call_command("audit_verify", "--user", str(user.id), "--from", middle.isoformat())
