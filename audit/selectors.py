"""Reads of the audit store: the chains checked (``audit_verify``), a user's or a period's events."""

import dataclasses
import datetime
from collections import Counter

from audit.models import GENESIS_HASH, AuditEvent, ChainHead, RetentionCut, Seal
from audit.services import audit_content, audit_payload, audit_time, chain_hash


@dataclasses.dataclass(frozen=True)
class ChainBreak:
    """The first row of a chain that does not check out, and why."""

    user_id: int
    seq: int
    event_id: str | None
    reason: str

    def __str__(self) -> str:
        return f"user {self.user_id}, #{self.seq} (event {self.event_id}): {self.reason}"


def _content(row: AuditEvent) -> str:
    return audit_content(event_id=row.event_id, user_id=row.user_id, event_type=row.event_type,
                         occurred_at=audit_time(row.occurred_at), payload=audit_payload(row.payload),
                         topic=row.kafka_topic, partition=row.kafka_partition, offset=row.kafka_offset,
                         received_at=audit_time(row.received_at))


def _verify_chain(user_id: int, rows, *, previous_hash: str, previous_seq: int) -> ChainBreak | None:
    for row in rows:
        if row.seq != previous_seq + 1:
            return ChainBreak(user_id, previous_seq + 1, str(row.event_id),
                              f"#{previous_seq + 1} is missing: the next row is #{row.seq}")
        if row.previous_hash != previous_hash:
            return ChainBreak(user_id, row.seq, str(row.event_id),
                              "its previous hash is not the hash of the row before it")
        if row.hash != chain_hash(previous_hash, _content(row)):
            return ChainBreak(user_id, row.seq, str(row.event_id), "its content does not match its hash")
        previous_hash, previous_seq = row.hash, row.seq
    return None


def audit_verify(*, user_id: int | None = None, start: datetime.datetime | None = None,
                 end: datetime.datetime | None = None) -> list[ChainBreak]:
    """Recompute every chain (or one user's; or the rows of a period, from the row before it) and
    check it against the seals: the first break of each chain, none if all is intact.

    Checks, per chain: the rows are #1, #2, ... with no gap (a row deleted); each row's previous hash
    is the row before's hash (rows inserted or reordered); each row's hash is sha256 of that and its
    content (a row edited); the last row is the chain's head (the tail cut). Then each seal: the row
    it names for each chain has the hash it sealed (a rewrite that recomputed every hash after it)."""
    heads = ChainHead.objects.all()
    if user_id is not None:
        heads = heads.filter(user_id=user_id)
    cut = _retention_cuts()
    breaks = []
    for head in heads.order_by("user_id").iterator():
        rows = AuditEvent.objects.filter(user_id=head.user_id).order_by("seq")
        previous_seq, previous_hash = cut.get(str(head.user_id), (0, GENESIS_HASH))
        if start is not None:
            before = (AuditEvent.objects.filter(user_id=head.user_id, occurred_at__lt=start).order_by("-seq")
                      .values_list("seq", "hash").first())
            if before is not None:
                previous_seq, previous_hash = before
            rows = rows.filter(occurred_at__gte=start)
        if end is not None:
            rows = rows.filter(occurred_at__lt=end)
        found = _verify_chain(head.user_id, rows.iterator(chunk_size=2_000), previous_hash=previous_hash,
                              previous_seq=previous_seq)
        if found is None and end is None:
            last = rows.order_by("-seq").values_list("seq", "hash").first() or (previous_seq, previous_hash)
            if tuple(last) != (head.seq, head.hash):
                found = ChainBreak(head.user_id, last[0] + 1, None,
                                   f"the chain ends at #{last[0]}, its head says #{head.seq}: rows are missing")
        if found is not None:
            breaks.append(found)
    breaks += _verify_seals(user_id=user_id, already={b.user_id for b in breaks}, cut=cut)
    return breaks


def _retention_cuts() -> dict[str, tuple[int, str]]:
    """Where retention cut each chain (the last row dropped: its seq and hash), the latest cut winning."""
    cut: dict[str, tuple[int, str]] = {}
    for heads in RetentionCut.objects.order_by("upper_bound").values_list("heads", flat=True):
        cut.update({user: (seq, row_hash) for user, (seq, row_hash) in heads.items()})
    return cut


def _verify_seals(*, user_id: int | None, already: set[int], cut: dict) -> list[ChainBreak]:
    """Each seal's heads still in the chains, and each seal chained to the one before."""
    breaks: list[ChainBreak] = []
    previous_hash = GENESIS_HASH
    for seal in Seal.objects.order_by("sealed_at").iterator():
        if seal.previous_seal_hash != previous_hash:
            breaks.append(ChainBreak(0, 0, None,
                                     f"seal {seal.sealed_at:%Y-%m-%d %H:%M}: not chained to the one before"))
        previous_hash = seal.seal_hash
        for user, (seq, sealed_hash) in seal.heads.items():
            if (user_id is not None and int(user) != user_id) or int(user) in already:
                continue
            if seq <= cut.get(user, (0, ""))[0]:  # archived and dropped by retention
                continue
            found = AuditEvent.objects.filter(user_id=int(user), seq=seq).values_list("hash", flat=True).first()
            if seq and found != sealed_hash:
                breaks.append(ChainBreak(int(user), seq, None, f"it is not the row sealed at "
                                                               f"{seal.sealed_at:%Y-%m-%d %H:%M} (history rewritten)"))
                already.add(int(user))
    return breaks


@dataclasses.dataclass(frozen=True)
class AuditReconciliation:
    """What ``audit_reconcile`` found: events a source should have and the store lacks (or holds a
    different number of), and events stored that no operation or hold accounts for."""

    missing: list[tuple]
    unexplained: list[tuple]

    @property
    def clean(self) -> bool:
        return not self.missing and not self.unexplained


def _expected_events(start: datetime.datetime, end: datetime.datetime) -> Counter:
    """(source, event type, user, won) of every event the operations and holds of the period wrote."""
    from wallets.models import (
        ExpiryNotice,
        Hold,
        HoldPurpose,
        HoldStatus,
        Operation,
        OperationKind,
        Payout,
        PayoutStatus,
        RefundRequest,
        RefundRequestStatus,
    )

    expected: Counter = Counter()
    operations = Operation.objects.filter(created_at__gte=start, created_at__lt=end)
    for op in operations.values_list("pk", "kind", "user_id", "counterparty_id", "amount").iterator():
        pk, kind, user_id, counterparty_id, amount = op
        if counterparty_id is not None:  # a transfer or its return: one event for each side
            expected[(str(pk), "TRANSFER_SENT", user_id, amount)] += 1
            expected[(str(pk), "TRANSFER_RECEIVED", counterparty_id, amount)] += 1
        elif kind != OperationKind.PAYOUT:  # a payout's event: by its payout, below
            event_type = {OperationKind.CHARGE: "CHARGE_COMPLETED", OperationKind.SPEND: "SPEND_COMPLETED",
                          OperationKind.REVERSAL: "REVERSAL_COMPLETED", OperationKind.CAPTURE: "HOLD_CAPTURED",
                          OperationKind.EXPIRY: "BALANCE_EXPIRED"}[kind]
            expected[(str(pk), event_type, user_id, amount)] += 1
    # Remaining-balance refunds: the request, each payout paid, the end; expiry notices.
    requests = RefundRequest.objects.filter(created_at__gte=start, created_at__lt=end)
    for request_id, user_id, amount in requests.values_list("id", "user_id", "amount").iterator():
        expected[(str(request_id), "REFUND_REQUESTED", user_id, amount)] += 1
    ended = RefundRequest.objects.exclude(status=RefundRequestStatus.PROCESSING).filter(
        completed_at__gte=start, completed_at__lt=end)
    for request_id, user_id, amount in ended.values_list("id", "user_id", "amount").iterator():
        expected[(str(request_id), "REFUND_REQUEST_COMPLETED", user_id, amount)] += 1
    paid = Payout.objects.filter(status=PayoutStatus.SUCCEEDED, updated_at__gte=start, updated_at__lt=end)
    for payout_id, user_id, amount in paid.values_list("id", "user_id", "amount").iterator():
        expected[(str(payout_id), "PAYOUT_COMPLETED", user_id, amount)] += 1
    notices = ExpiryNotice.objects.filter(created_at__gte=start, created_at__lt=end)
    for notice_id, user_id, amount in notices.values_list("id", "user_id", "amount").iterator():
        expected[(str(notice_id), "BALANCE_EXPIRY_NOTICE", user_id, amount)] += 1
    holds = Hold.objects.filter(purpose=HoldPurpose.CLIENT)
    for hold_id, user_id, amount in holds.filter(created_at__gte=start, created_at__lt=end).values_list(
            "id", "user_id", "amount").iterator():
        expected[(str(hold_id), "HOLD_PLACED", user_id, amount)] += 1
    released = holds.filter(status__in=[HoldStatus.VOIDED, HoldStatus.EXPIRED], ended_at__gte=start, ended_at__lt=end)
    for hold_id, user_id, amount, captured in released.values_list("id", "user_id", "amount", "captured").iterator():
        expected[(str(hold_id), "HOLD_RELEASED", user_id, amount - captured)] += 1
    return expected


def _stored_events(start: datetime.datetime, end: datetime.datetime) -> Counter:
    stored: Counter = Counter()
    rows = AuditEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
    for event_type, user_id, payload in rows.values_list("event_type", "user_id", "payload").iterator():
        source = (payload.get("payoutId") or payload.get("requestId") or payload.get("noticeId")
                  or payload["metadata"].get("transactionId") or payload.get("holdId"))
        amount = payload.get("amount", payload.get("reversedAmount", payload.get("releasedAmount")))
        stored[(source, event_type, user_id, amount)] += 1
    return stored


def audit_reconcile(*, start: datetime.datetime, end: datetime.datetime, limit: int = 100) -> AuditReconciliation:
    """The store against the money: every operation of [start, end) has exactly its events (one; a
    transfer's two), every hold placed and released its own, of the matching type, user and amount;
    and every event stored in the period has such a source. Leave the period's end a few minutes in
    the past: events reach the store after their commit."""
    expected, stored = _expected_events(start, end), _stored_events(start, end)
    missing = [(*key, f"{stored[key]} stored") for key in expected if stored[key] != expected[key]]
    unexplained = [key for key in stored if key not in expected]
    return AuditReconciliation(missing=missing[:limit], unexplained=unexplained[:limit])


def audit_events(*, user_id: int | None = None, event_type: str | None = None,
                 start: datetime.datetime | None = None, end: datetime.datetime | None = None):
    """The stored events, filtered (a user's history in a period reads one index: user, time)."""
    rows = AuditEvent.objects.all()
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if event_type is not None:
        rows = rows.filter(event_type=event_type)
    if start is not None:
        rows = rows.filter(occurred_at__gte=start)
    if end is not None:
        rows = rows.filter(occurred_at__lt=end)
    return rows
