"""What is checked once the platform has drained: nothing lost, duplicated, invented or out of order
(ledger, Kafka, notifications, browsers, mail, Slack), and when the drain is done."""

import itertools
import time
from collections import Counter, defaultdict
from datetime import timedelta
from typing import TYPE_CHECKING

from bench.chaos.browsers import Browser
from bench.chaos.load import Call

if TYPE_CHECKING:
    from tests.fake_channels import MailServer, SlackServer


def drained(browsers: list["Browser"], mail: "MailServer", slack: "SlackServer") -> tuple[bool, str]:
    """Whether every committed event has reached its notification, its browser and its user's channels."""
    from django.db import connection

    from audit.models import AuditEvent
    from notifications.models import Notification
    from outbox.models import OutboxEvent

    connection.close()  # the database may have restarted since the last look
    pending = OutboxEvent.objects.filter(published_at__isnull=True).count()
    events = OutboxEvent.objects.count()
    audited = AuditEvent.objects.count()
    notified = Notification.objects.count()
    expected = Counter(OutboxEvent.objects.values_list("key", flat=True))
    behind = sum(1 for b in browsers if len({e for e, _ in b.received}) < expected[str(b.user.id)])
    users = [b.user for b in browsers]
    mailed = set(mail_event_ids(mail))
    mail_due = {str(e) for e in OutboxEvent.objects.filter(
        key__in=[str(u.id) for u in users if u.email]).values_list("event_id", flat=True)}
    slack_behind = sum(1 for u in users if u.slack and slack.paths[slack.path_of(u.id)] < expected[str(u.id)])
    connection.close()
    return (pending == 0 and notified >= events and audited >= events and behind == 0 and mail_due <= mailed
            and not slack_behind,
            f"outbox pending {pending}, notifications {notified}/{events}, audit store {audited}/{events}, "
            f"browsers behind {behind}, mails due {len(mail_due - mailed)}, Slack users behind {slack_behind}")


def mail_event_ids(mail: "MailServer") -> list[str]:
    """The event of each mail received, from its Message-ID (<eventId.domain>), in arrival order."""
    return [m["Message-ID"].strip("<>").split(".", 1)[0] for m in list(mail.messages)]


def kafka_event_ids(topic: str) -> list[str]:
    """Every record's eventId on ``topic``, from the beginning to its end now."""
    from django.conf import settings
    from kafka import KafkaConsumer
    from kafka.structs import TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=None,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])]
        consumer.assign(partitions)
        end = consumer.end_offsets(partitions)
        consumer.seek_to_beginning(*partitions)
        ids: list[str] = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic} to its end")
            for records in consumer.poll(timeout_ms=500).values():
                ids.extend(dict(r.headers).get("eventId", b"?").decode() for r in records)
        return ids
    finally:
        consumer.close()


def checks(calls: list[Call], browsers: list[Browser], mail: "MailServer", slack: "SlackServer"
           ) -> dict[str, list]:
    """Each check's offending ids (empty: it passed)."""
    from django.conf import settings
    from django.db import connection
    from django.db.models import Sum
    from django.utils import timezone

    from ledger.models import Posting
    from notifications.models import DeadLetter, Notification
    from outbox.models import OutboxEvent
    from wallets.models import (
        Hold,
        HoldPurpose,
        HoldStatus,
        Operation,
        OperationKind,
        Payout,
        PayoutStatus,
        Refund,
        RefundRequest,
        RefundRequestStatus,
        RefundStatus,
        Wallet,
    )
    from wallets.selectors import wallet_held, wallet_ledger_reconcile

    connection.close()
    found: dict[str, list] = {}
    users = [b.user for b in browsers]  # every user has its browser
    entries = {str(e["pk"]): e for e in Operation.objects.values("pk", "kind", "user_id", "amount", "created_at",
                                                                "idempotency_key", "counterparty_id", "hold_id")}
    # A remaining-balance refund's entries (its card refunds' reversals, its payouts) are its request's.
    cards = Refund.objects.filter(request__isnull=False, status=RefundStatus.SUCCEEDED)
    paid = Payout.objects.filter(status=PayoutStatus.SUCCEEDED, from_expired=0)
    request_of_entry = {str(e): k for e, k in [*cards.values_list("entry_id", "request__idempotency_key"),
                                               *paid.values_list("entry_id", "request__idempotency_key")]}
    by_key = defaultdict(list)
    for entry_id, entry in entries.items():
        if entry["kind"] != OperationKind.EXPIRY and entry_id not in request_of_entry:  # expiry: the platform's own
            by_key[entry["idempotency_key"]].append(entry_id)
    asked = {c.key: c for c in calls}

    # Every 2xx is exactly one journal entry (its own), every retried key one effect, nothing unasked for.
    found["unresolved calls (no definite answer)"] = [c.key for c in calls if c.status is None]
    moves_money = [c for c in calls if c.kind not in ("hold", "void", "refund")]
    found["2xx without its journal entry"] = [
        c.key for c in moves_money if c.ok and (c.answer.get("transactionId") not in entries
                                                or entries[c.answer["transactionId"]]["idempotency_key"] != c.key)]
    found["keys with more than one entry"] = [k for k, ids in by_key.items() if len(ids) > 1]
    found["entries no 2xx asked for"] = [
        ids for k, ids in by_key.items() if k not in asked or not asked[k].ok]
    # Remaining-balance refunds: each answered one is one request, ended, none unasked for; what it answered
    # is what was written (its card refunds' reversals and its payouts, each an entry of its amount).
    requests = {r.idempotency_key: r for r in RefundRequest.objects.prefetch_related("refunds", "payouts")}
    refunded = {c.key: c for c in calls if c.kind == "refund" and c.ok}
    found["refund requests answered but not stored, or stored unasked"] = sorted(set(refunded) ^ set(requests))
    found["refund requests not ended"] = [k for k, r in requests.items() if r.status == RefundRequestStatus.PROCESSING]
    found["refund requests whose entries or answer disagree"] = [
        k for k, r in requests.items()
        if any(str(f.entry_id) not in entries or entries[str(f.entry_id)]["amount"] != f.amount
               for f in r.refunds.all() if f.status == RefundStatus.SUCCEEDED)
        or any(str(p.entry_id) not in entries or entries[str(p.entry_id)]["amount"] != p.amount
               for p in r.payouts.all() if p.status == PayoutStatus.SUCCEEDED and not p.from_expired)
        or (k in refunded and refunded[k].answer["status"] != r.status)]
    # Holds: each placement that was answered is one hold, none unasked for; each ended at most once
    # and never gave more than it held; what the captures took is what the hold says it gave.
    holds = {str(h.id): h for h in Hold.objects.filter(purpose=HoldPurpose.CLIENT)}
    placed = {c.answer["holdId"]: c for c in calls if c.kind == "hold" and c.ok}
    found["holds answered but not stored, or stored unasked"] = sorted(set(placed) ^ set(holds))
    captured_by_hold = Counter()
    for e in entries.values():
        if e["hold_id"]:
            captured_by_hold[str(e["hold_id"])] += e["amount"]
    found["holds whose captures disagree with them"] = [
        h for h, hold in holds.items() if captured_by_hold[h] != hold.captured or hold.captured > hold.amount]
    found["holds still active past their expiry (the sweep is behind)"] = [
        h for h, hold in holds.items() if hold.status == HoldStatus.ACTIVE and hold.expires_at < timezone.now()
        - timedelta(seconds=60)]
    # Money: the ledger reconciles, sums to zero, and each wallet holds what its client was told.
    reconciled = wallet_ledger_reconcile(limit=100)
    found["ledger mismatches (reconcile_ledger)"] = [
        *[f"wallet {w['id']}" for w in reconciled.wallet_mismatches],
        *[f"entry {e['id']}" for e in reconciled.unbalanced_entries]]
    total = Posting.objects.aggregate(total=Sum("amount"))["total"] or 0
    found["postings not summing to zero"] = [total] if total else []
    expected_balance = Counter()
    for call in calls:
        for user_id, won in call.effects():
            expected_balance[user_id] += won
    # Expiry: what the platform took on its own, each no more than was older than the validity then (money is
    # spent oldest first: the balance before it, less what came in within the validity and was not reversed
    # by then), and nothing left unexpired a sweep after it was due.
    expiries = [e for e in entries.values() if e["kind"] == OperationKind.EXPIRY]
    for e in expiries:
        expected_balance[e["user_id"]] -= e["amount"]
    found["expiries of money younger than the validity"] = [
        f"user {e['user_id']}: {e['amount']} > {due}" for e, due in ((e, _expired_due(e)) for e in expiries)
        if e["amount"] > due]
    validity = timedelta(days=settings.WALLET_BALANCE_VALIDITY_DAYS)
    late = timedelta(seconds=settings.WALLET_EXPIRY_SWEEP_INTERVAL_S + 60)
    with connection.cursor() as cursor:
        cursor.execute("SELECT user_id, balance - wallet_fresh_amount(user_id, clock_timestamp() - %s - %s)"
                       " - wallet_held(user_id) FROM wallets_wallet WHERE balance > 0", [validity, late])
        found["money past its validity not expired (the sweep is behind)"] = [
            f"user {u}: {won}" for u, won in cursor.fetchall() if won > 0]
    expected_held = {u.id: u.held(time.monotonic()) for u in users}
    found["wallets whose balance or available balance drifted from the answers"] = [
        f"user {w.user_id}: {w.balance} != {expected_balance[w.user_id]} or held {held} != {expected_held[w.user_id]}"
        for w, held in ((w, wallet_held(user_id=w.user_id)) for w in Wallet.objects.all())
        if w.balance != expected_balance[w.user_id] or held != expected_held.get(w.user_id, 0)]
    found["negative balances or available balances"] = [
        w.user_id for w in Wallet.objects.all() if w.balance < 0 or w.balance - wallet_held(user_id=w.user_id) < 0]

    # Events: one per entry, all in Kafka, each notified exactly once, in commit order.
    outbox = list(OutboxEvent.objects.order_by("id").values("id", "event_id", "key", "payload", "created_at",
                                                            "published_at", "failed_at"))
    # One event per entry, two for a transfer or a return (its sender's and its recipient's); one per
    # hold placed, and one release per hold voided or expired.
    event_of_entry = Counter(o["payload"]["metadata"].get("transactionId") for o in outbox)
    found["entries without exactly their events"] = [
        e for e, entry in entries.items() if event_of_entry[e] != (2 if entry["counterparty_id"] else 1)]
    hold_events = Counter((o["payload"]["eventType"], o["payload"].get("holdId")) for o in outbox
                          if o["payload"]["eventType"] in ("HOLD_PLACED", "HOLD_RELEASED"))
    found["holds without exactly their events"] = [
        h for h, hold in holds.items() if hold_events[("HOLD_PLACED", h)] != 1
        or hold_events[("HOLD_RELEASED", h)] != (hold.status in (HoldStatus.VOIDED, HoldStatus.EXPIRED))]
    found["outbox rows pending or parked"] = [str(o["event_id"]) for o in outbox
                                              if not o["published_at"] or o["failed_at"]]
    in_kafka = Counter(kafka_event_ids(settings.KAFKA_TOPIC_WALLET_EVENTS))
    found["committed events missing from Kafka"] = [str(o["event_id"]) for o in outbox
                                                    if not in_kafka[str(o["event_id"])]]
    notifications = list(Notification.objects.order_by("id").values_list("user_id", "event_id"))
    per_event = Counter(str(e) for _, e in notifications)
    found["events not notified exactly once"] = [str(o["event_id"]) for o in outbox
                                                 if per_event[str(o["event_id"])] != 1]
    committed_order = defaultdict(list)  # per user, its events in commit order (the outbox id order)
    for o in outbox:
        committed_order[int(o["key"])].append(str(o["event_id"]))
    committed = {e for ids in committed_order.values() for e in ids}
    notified_order = defaultdict(list)
    for user_id, event_id in notifications:
        notified_order[user_id].append(str(event_id))
    found["users notified out of commit order"] = [
        u for u, ids in committed_order.items() if not in_order_of(notified_order[u], ids)]
    found["notifications for no committed event"] = [e for e in per_event if e not in committed]
    # Browsers: each ends with its user's events, each once, in commit order.
    for browser in browsers:
        got = [e for e, _ in browser.received]
        for name, ids in stream_findings(got, committed_order[browser.user.id]).items():
            found.setdefault(f"browsers {name}", [])
            if ids:
                found[f"browsers {name}"].append(f"user {browser.user.id}: {ids[:5]}")
    # Email and Slack: every event of a user who wants it, delivered (at least once: a consumer killed
    # between the mail server's answer and recording it sends it again, with the same Message-ID).
    mailed = Counter(mail_event_ids(mail))
    mail_due = {e for u in users if u.email for e in committed_order[u.id]}
    slack_paths = {slack.path_of(u.id): u for u in users if u.slack}
    found["emails missing"] = [e for e in mail_due if not mailed[e]]
    found["emails for no committed event or user who wants none"] = [e for e in mailed if e not in mail_due]
    found["Slack users short of messages"] = [
        f"user {u.id}: {slack.paths[p]} < {len(committed_order[u.id])}" for p, u in slack_paths.items()
        if slack.paths[p] < len(committed_order[u.id])]
    found["Slack messages to users who want none"] = [p for p in slack.paths if p not in slack_paths]
    # The audit store: every committed event exactly once (the store's key is the event), none invented,
    # every chain and seal intact, and it agrees with the operations and holds.
    from audit.models import AuditEvent
    from audit.selectors import audit_reconcile, audit_verify
    from audit.services import audit_seal

    audited = Counter(str(e) for e in AuditEvent.objects.values_list("event_id", flat=True))
    found["events not in the audit store exactly once"] = [str(o["event_id"]) for o in outbox
                                                          if audited[str(o["event_id"])] != 1]
    committed_events = {str(o["event_id"]) for o in outbox}
    found["audit events for no committed event"] = [e for e in audited if e not in committed_events]
    audit_seal()  # a seal at the end too: verified with the chains
    found["audit chains broken (audit_verify)"] = [str(b) for b in audit_verify()]
    everything = {"start": timezone.now() - timedelta(days=1), "end": timezone.now() + timedelta(minutes=1)}
    reconciled_audit = audit_reconcile(**everything)
    found["audit store disagreeing with the money (audit_reconcile)"] = [
        *map(str, reconciled_audit.missing), *map(str, reconciled_audit.unexplained)]
    # Nothing parked.
    found["dead letters stored"] = [
        f"{d.original_topic}[{d.original_partition}]@{d.original_offset}: {d.exception_type}: "
        f"{d.exception_message[:200]}" for d in DeadLetter.objects.all()]
    found["records on the DLT"] = kafka_event_ids(settings.KAFKA_TOPIC_WALLET_EVENTS_DLT)
    connection.close()
    return found


def platform_own() -> dict[str, int]:
    """What the platform did on its own during the run: expiries (and the won they took), expiry notices."""
    from django.db import connection
    from django.db.models import Count, Sum

    from wallets.models import ExpiryNotice, Operation, OperationKind

    expiries = Operation.objects.filter(kind=OperationKind.EXPIRY).aggregate(n=Count("pk"), won=Sum("amount"))
    own = {"expiries": expiries["n"], "expired_won": expiries["won"] or 0,
           "expiry_notices": ExpiryNotice.objects.count()}
    connection.close()
    return own


def _expired_due(expiry: dict) -> int:
    """What an expiry could take at its moment: the wallet's balance before it less what came in within the
    validity before then (credits, less what of them was reversed by then)."""
    from datetime import timedelta

    from django.conf import settings

    from ledger.models import Posting
    from wallets.models import Operation, OperationKind

    at = expiry["created_at"]
    account = Posting.objects.filter(entry_id=expiry["pk"], amount__lt=0).values_list("account_id", "balance_after")
    account_id, balance_after = account.get()
    credits = Posting.objects.filter(account_id=account_id, amount__gt=0, created_at__lte=at,
                                     created_at__gt=at - timedelta(days=settings.WALLET_BALANCE_VALIDITY_DAYS))
    fresh = sum(amount for amount in credits.values_list("amount", flat=True))
    fresh -= sum(Operation.objects.filter(kind=OperationKind.REVERSAL, user_id=expiry["user_id"], created_at__lt=at,
                                          reverses_id__in=credits.values("entry_id")).values_list("amount", flat=True))
    return balance_after + expiry["amount"] - fresh


def stream_findings(got: list[str], want: list[str]) -> dict[str, list[str]]:
    """What is wrong with the events a browser ``got`` (in arrival order), against the events of its user
    ``want`` (in commit order): each finding's event ids (all empty: the stream is right)."""
    got_set, want_set = set(got), set(want)
    first_arrivals = list(dict.fromkeys(got))
    return {"missing events": [e for e in want if e not in got_set],
            "with duplicates": [e for e, n in Counter(got).items() if n > 1],
            "out of order": [] if in_order_of(first_arrivals, want) else first_arrivals,
            "given events never committed": [e for e in first_arrivals if e not in want_set]}


def in_order_of(seen: list[str], order: list[str]) -> bool:
    """Whether the events of ``seen`` that are in ``order`` come in that order (missing and extra ones are
    the other checks' business)."""
    position = {e: i for i, e in enumerate(order)}
    ranks = [position[e] for e in seen if e in position]
    return all(a < b for a, b in itertools.pairwise(ranks))
