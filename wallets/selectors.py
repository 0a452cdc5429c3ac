"""Reads of wallets and their transactions. Every list is bounded (paginated)."""

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    BigIntegerField,
    Case,
    CharField,
    F,
    Func,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from ledger.models import Posting
from ledger.selectors import ledger_unbalanced_entries
from prepaid.pagination import UnionKeyset
from wallets.models import (
    ChargeOrder,
    Hold,
    HoldPurpose,
    Operation,
    OperationKind,
    ReconcileRun,
    RefundRequest,
    Wallet,
    WalletTier,
)

# Each tier's limits, by the name the SQL reads them with (wallet_tier_limit), and their settings.
TIER_LIMITS = {"balanceMax": "WALLET_BALANCE_MAX_{tier}_WON", "transferDailyMax": "TRANSFER_DAILY_MAX_{tier}_WON"}


def tier_limits() -> dict[str, dict[str, int]]:
    """Each verification tier's limits, in won, from the settings (what the SQL functions are given)."""
    return {tier: {name: getattr(settings, setting.format(tier=tier.upper())) for name, setting in TIER_LIMITS.items()}
            for tier in WalletTier.values}


def wallet_get(*, user_id: int) -> Wallet | None:
    return Wallet.objects.filter(user_id=user_id).first()


def wallet_transactions(*, user_id: int) -> UnionKeyset:
    """The wallet's operations as its user sees them, newest first: theirs, and the transfers and returns
    they received (two arms, each read through its index: operation_user_created_idx and
    operation_counterparty_idx; prepaid.pagination pages them). Each with the wallet's balance after it and
    the way the money went (its posting's), the other user of a transfer, how much of it was reversed and
    how much the user can still reverse: the rule ``wallet_reverse`` applies (wallets/sql/
    wallet_reversible_amount.sql; a transfer is final for its sender). Each row's figures are lookups by
    its id, so a page costs its rows, not the history behind them."""
    posting = Posting.objects.filter(entry_id=OuterRef("pk"), account__wallet__user_id=user_id)
    reversed_amount = (Operation.objects.filter(reverses_id=OuterRef("pk")).order_by()
                       .values("reverses_id").annotate(total=Sum("amount")).values("total"))
    detail = (
        Operation.objects
        .annotate(balance_after=Subquery(posting.values("balance_after")[:1]),
                  posted=Subquery(posting.values("amount")[:1]),
                  direction=Case(When(posted__gt=0, then=Value("in")), default=Value("out"),
                                 output_field=CharField()),
                  counterparty_name=Case(When(counterparty__isnull=True, then=Value(None)),
                                         When(user_id=user_id, then=F("counterparty__username")),
                                         default=F("user__username"), output_field=CharField()),
                  reversed_amount=Coalesce(Subquery(reversed_amount), 0),
                  reversible_amount=Case(
                      When(kind=OperationKind.TRANSFER, user_id=user_id, then=0),
                      When(kind=OperationKind.REVERSAL, then=0),
                      default=Func(F("pk"), function="wallet_reversible_amount", output_field=BigIntegerField()),
                      output_field=BigIntegerField()))
    )
    return UnionKeyset(model=Operation, arms=(Operation.objects.filter(user_id=user_id),
                                              Operation.objects.filter(counterparty_id=user_id)), detail=detail)


def wallet_with_held(*, user_id: int) -> Wallet | None:
    """The user's wallet with ``held``: what its active holds keep (one query)."""
    return (Wallet.objects.filter(user_id=user_id)
            .annotate(held=Func(F("user_id"), function="wallet_held", output_field=BigIntegerField())).first())


def wallet_held(*, user_id: int) -> int:
    """What the user's active holds keep of the balance (wallets/sql/wallet_held.sql)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT wallet_held(%s)", [user_id])
        return cursor.fetchone()[0]


def hold_get(*, user_id: int, hold_id) -> Hold | None:
    """The user's own hold placed through the API (another user's, or a refund's, is not found)."""
    return Hold.objects.filter(id=hold_id, user_id=user_id, purpose=HoldPurpose.CLIENT).first()


def wallet_balance_at(*, user_id: int, at: datetime) -> int:
    """The wallet's balance at the moment ``at``: the balance after its last posting up to then (one
    index read: posting (account, time)); 0 before its first."""
    wallet = wallet_get(user_id=user_id)
    if wallet is None:
        return 0
    return (Posting.objects.filter(account_id=wallet.account_id, created_at__lte=at).order_by("-created_at", "-id")
            .values_list("balance_after", flat=True).first()) or 0


@dataclasses.dataclass(frozen=True)
class StatementLine:
    transaction_id: str
    created_at: datetime
    kind: str
    direction: str  # "in" or "out"
    amount: int  # positive won
    balance_after: int
    counterparty: str | None
    description: str


@dataclasses.dataclass(frozen=True)
class Statement:
    """A wallet's statement for [start, end): the balance at its start, every posting in it, the balance
    at its end. Checked when read: each line's balance after is the opening balance plus the lines so far,
    so the closing balance is both."""

    start: datetime
    end: datetime
    opening_balance: int
    closing_balance: int
    lines: list[StatementLine]

    @property
    def total_in(self) -> int:
        return sum(line.amount for line in self.lines if line.direction == "in")

    @property
    def total_out(self) -> int:
        return sum(line.amount for line in self.lines if line.direction == "out")


class StatementTooLong(Exception):
    """More lines in the period than a statement may hold."""


class StatementMismatch(Exception):
    """The postings do not add up (a broken ledger: never expected; reconcile_ledger says where)."""


def wallet_statement(*, user_id: int, start: datetime, end: datetime, lines_max: int) -> Statement:
    """The statement of ``user_id``'s wallet from ``start`` (included) to ``end`` (excluded); at most
    ``lines_max`` lines, else ``StatementTooLong``."""
    wallet = wallet_get(user_id=user_id)
    if wallet is None:
        return Statement(start=start, end=end, opening_balance=0, closing_balance=0, lines=[])
    opening = (Posting.objects.filter(account_id=wallet.account_id, created_at__lt=start)
               .order_by("-created_at", "-id").values_list("balance_after", flat=True).first()) or 0
    postings = list(
        Posting.objects.filter(account_id=wallet.account_id, created_at__gte=start, created_at__lt=end)
        .order_by("created_at", "id")[:lines_max + 1])
    if len(postings) > lines_max:
        raise StatementTooLong(lines_max)
    # Each posting's operation (its entry's id), read by id: the period's rows, whatever the history.
    operations = Operation.objects.select_related("user", "counterparty").in_bulk([p.entry_id for p in postings])
    lines, running = [], opening
    for posting in postings:
        running += posting.amount
        if posting.balance_after != running:
            raise StatementMismatch(f"posting {posting.id}: balance after {posting.balance_after}, running {running}")
        operation = operations[posting.entry_id]
        other = None
        if operation.counterparty_id is not None:
            other = operation.counterparty if operation.user_id == user_id else operation.user
        lines.append(StatementLine(
            transaction_id=str(operation.pk), created_at=posting.created_at, kind=operation.kind,
            direction="in" if posting.amount > 0 else "out", amount=abs(posting.amount),
            balance_after=posting.balance_after, counterparty=other.username if other else None,
            description=operation.description))
    # The closing balance is the opening one plus the lines, each line's balance after checked on the way
    # (the ledger wrote them under the wallet's lock; a posting that does not add up raises).
    return Statement(start=start, end=end, opening_balance=opening, closing_balance=running, lines=lines)


def recipient_get(*, username: str):
    """The active user named ``username``, who may be sent money; None if there is none."""
    return get_user_model().objects.filter(username=username, is_active=True).first()


def wallet_balance_mismatches(*, limit: int = 1000) -> list[dict]:
    """Wallets whose balance differs from the sum of their account's postings."""
    rows = (
        Wallet.objects.annotate(posted=Coalesce(Sum("account__postings__amount"), 0))
        .exclude(balance=F("posted"))
        .order_by("id")
        .values("id", "user_id", "balance", "posted")[:limit]
    )
    return list(rows)


@dataclasses.dataclass(frozen=True)
class LedgerReconciliation:
    """What ``reconcile_ledger`` found: wallets whose balance is not their postings', postings whose balance
    after is not the one before plus their amount, unbalanced entries; and what it covered."""

    wallet_mismatches: list[dict]
    unbalanced_entries: list[dict]
    broken_postings: list[dict] = dataclasses.field(default_factory=list)
    from_posting_id: int = 0
    upto_posting_id: int = 0
    upto_time: datetime | None = None
    postings_checked: int = 0
    wallets_checked: int = 0

    @property
    def clean(self) -> bool:
        return not self.wallet_mismatches and not self.unbalanced_entries and not self.broken_postings

    @property
    def mismatches(self) -> int:
        return len(self.wallet_mismatches) + len(self.unbalanced_entries) + len(self.broken_postings)


_RECONCILE_MARK = """
    SELECT coalesce(max(id), %(from)s), max(created_at) FROM ledger_posting
     WHERE id > %(from)s AND created_at < clock_timestamp() - %(settle)s * interval '1 second'"""


def _reconcile_mark(cursor, *, from_posting_id: int) -> tuple[int, datetime | None]:
    """The highest posting past ``from_posting_id`` older than LEDGER_RECONCILE_SETTLE_S: every posting at or
    below it is committed, or never will be (a transaction runs for less than that)."""
    cursor.execute(_RECONCILE_MARK, {"from": from_posting_id, "settle": settings.LEDGER_RECONCILE_SETTLE_S})
    return cursor.fetchone()


# Postings of wallets whose balance after is not the posting before's plus their amount: over the whole
# ledger (the full pass), or those since a mark, each with a lookup of the one before (the incremental one).
_BROKEN_POSTINGS_ALL = """
    SELECT id, entry_id, wallet_id, user_id, amount, balance_after, before FROM (
      SELECT p.id, p.entry_id, w.id AS wallet_id, w.user_id, p.amount, p.balance_after,
             coalesce(lag(p.balance_after) OVER (PARTITION BY p.account_id ORDER BY p.created_at, p.id), 0) AS before
        FROM ledger_posting p JOIN wallets_wallet w ON w.account_id = p.account_id) AS chain
     WHERE balance_after IS DISTINCT FROM before + amount ORDER BY id LIMIT %(limit)s"""


def _broken(rows) -> list[dict]:
    names = ("id", "entry_id", "wallet_id", "user_id", "amount", "balance_after", "before")
    return [dict(zip(names, row, strict=True)) for row in rows]


def wallet_ledger_reconcile(*, limit: int = 1000) -> LedgerReconciliation:
    """The full pass: every wallet against the sum of its postings, each posting of a wallet against the one
    before it, every entry against itself (at most ``limit`` of each). Reads the whole ledger: an operator's
    command (``reconcile_ledger``); the hourly run is ``wallet_ledger_reconcile_since``."""
    with connection.cursor() as cursor:
        upto, upto_time = _reconcile_mark(cursor, from_posting_id=0)
        cursor.execute("SELECT (SELECT count(*) FROM wallets_wallet), (SELECT count(*) FROM ledger_posting)")
        wallets, postings = cursor.fetchone()
        cursor.execute(_BROKEN_POSTINGS_ALL, {"limit": limit})
        broken = _broken(cursor.fetchall())
    return LedgerReconciliation(wallet_mismatches=wallet_balance_mismatches(limit=limit),
                                unbalanced_entries=ledger_unbalanced_entries(limit=limit), broken_postings=broken,
                                from_posting_id=0,
                                upto_posting_id=upto, upto_time=upto_time, postings_checked=postings,
                                wallets_checked=wallets)


_BROKEN_POSTINGS = """
    SELECT p.id, p.entry_id, w.id, w.user_id, p.amount, p.balance_after, coalesce(before.balance_after, 0)
      FROM ledger_posting p
      JOIN wallets_wallet w ON w.account_id = p.account_id
      LEFT JOIN LATERAL (SELECT q.balance_after FROM ledger_posting q
                          WHERE q.account_id = p.account_id AND q.created_at <= p.created_at
                            AND (q.created_at < p.created_at OR q.id < p.id)
                          ORDER BY q.created_at DESC, q.id DESC LIMIT 1) AS before ON true
     WHERE p.id > %(from)s AND p.id <= %(upto)s
       AND p.balance_after IS DISTINCT FROM coalesce(before.balance_after, 0) + p.amount
     ORDER BY p.id LIMIT %(limit)s"""

_TOUCHED_WALLETS = """
    SELECT w.id, w.user_id, w.balance, coalesce(last.balance_after, 0)
      FROM (SELECT DISTINCT account_id FROM ledger_posting WHERE id > %(from)s AND id <= %(upto)s) AS touched
      JOIN wallets_wallet w ON w.account_id = touched.account_id
      LEFT JOIN LATERAL (SELECT q.balance_after FROM ledger_posting q WHERE q.account_id = w.account_id
                          ORDER BY q.created_at DESC, q.id DESC LIMIT 1) AS last ON true
     ORDER BY w.id"""

_UNBALANCED_SINCE = """
    WITH touched AS (SELECT entry_id AS id FROM ledger_posting WHERE id > %(from)s AND id <= %(upto)s
                     UNION SELECT id FROM ledger_journalentry WHERE created_at >= %(since)s AND created_at <= %(until)s)
    SELECT id, kind, total, count FROM (
      SELECT e.id, e.kind,
             (SELECT coalesce(sum(p.amount), 0) FROM ledger_posting p WHERE p.entry_id = e.id) AS total,
             (SELECT count(*) FROM ledger_posting p WHERE p.entry_id = e.id) AS count
        FROM touched JOIN ledger_journalentry e ON e.id = touched.id) AS entries
     WHERE total <> 0 OR count < 2 ORDER BY id LIMIT %(limit)s"""


def wallet_ledger_reconcile_since(*, from_posting_id: int, since: datetime | None,
                                  limit: int = 1000) -> LedgerReconciliation:
    """The incremental pass, over what was written since the last run's mark (``from_posting_id``, its time
    ``since``): each new posting of a wallet is the posting before it plus its amount (so, by induction
    from the first, each balance after is the sum of the account's postings up to it); each wallet touched
    holds its last posting's balance after; each entry touched, or written since, balances. Its cost is the
    postings since the mark, not the ledger's history. It assumes wallets change with their postings only:
    a balance changed with none is the full pass's to find. Call it in one snapshot (REPEATABLE READ)."""
    with connection.cursor() as cursor:
        upto, upto_time = _reconcile_mark(cursor, from_posting_id=from_posting_id)
        window = {"from": from_posting_id, "upto": upto, "limit": limit}
        cursor.execute("SELECT count(*) FROM ledger_posting WHERE id > %(from)s AND id <= %(upto)s", window)
        (postings,) = cursor.fetchone()
        cursor.execute(_BROKEN_POSTINGS, window)
        broken = _broken(cursor.fetchall())
        cursor.execute(_TOUCHED_WALLETS, window)
        touched = cursor.fetchall()
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        cursor.execute(_UNBALANCED_SINCE, {**window, "since": since or epoch, "until": upto_time or epoch})
        unbalanced = [{"id": entry_id, "kind": kind, "posting_sum": total, "posting_count": count}
                      for entry_id, kind, total, count in cursor.fetchall()]
    mismatches = [{"id": wallet_id, "user_id": user_id, "balance": balance, "posted": posted}
                  for wallet_id, user_id, balance, posted in touched if balance != posted][:limit]
    return LedgerReconciliation(wallet_mismatches=mismatches, unbalanced_entries=unbalanced, broken_postings=broken,
                                from_posting_id=from_posting_id, upto_posting_id=upto, upto_time=upto_time,
                                postings_checked=postings, wallets_checked=len(touched))


def reconcile_last_run() -> ReconcileRun | None:
    """The last reconcile run (its mark is where the next incremental one starts)."""
    return ReconcileRun.objects.order_by("-id").first()


def charge_order_get(*, user_id: int, order_id: str) -> ChargeOrder | None:
    """The user's charge order (another user's is not found)."""
    return ChargeOrder.objects.filter(order_id=order_id, user_id=user_id).first()


@dataclasses.dataclass(frozen=True)
class CustodyFigures:
    """A day's outstanding balance and flows (won), from the ledger (wallets.models.CustodyReport)."""

    day: date
    opening: int
    outstanding: int
    charged: int
    refunded: int
    used: int
    use_reversed: int
    expired: int
    paid_out: int
    moved_in: int  # what the day's postings on the system accounts moved into the wallets (net)

    @property
    def difference(self) -> int:
        return self.outstanding - self.opening - self.moved_in


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """A Korean day's [start, end)."""
    start = timezone.make_aware(datetime.combine(day, time.min), timezone.get_default_timezone())
    return start, start + timedelta(days=1)


_OUTSTANDING_AT = """
    SELECT coalesce(sum(last.balance_after), 0)::bigint FROM ledger_account a
    CROSS JOIN LATERAL (SELECT p.balance_after FROM ledger_posting p
                        WHERE p.account_id = a.id AND p.created_at < %s
                        ORDER BY p.created_at DESC, p.id DESC LIMIT 1) AS last
    WHERE a.kind = 'WALLET'"""


def custody_figures(*, day: date) -> CustodyFigures:
    """The day's figures: users' balances at its start and end (each wallet account's balance after its last
    posting before then: one index read per wallet), and its flows, read from the system accounts' postings
    (a charge: payment clearing to a wallet; a card refund back; a spend: a wallet to merchant settlement;
    its reversal back; an expiry: a wallet to its user's expired balance; a payout: to payout clearing).
    Every entry sums to zero, so what the system accounts gave is what the wallets got: the opening plus that
    is the closing, or ``difference`` says by how much it is not."""
    start, end = day_bounds(day)
    with connection.cursor() as cursor:
        cursor.execute(_OUTSTANDING_AT, [start])
        opening = cursor.fetchone()[0]
        cursor.execute(_OUTSTANDING_AT, [end])
        outstanding = cursor.fetchone()[0]
        cursor.execute(
            "SELECT a.kind, coalesce(sum(p.amount) FILTER (WHERE p.amount > 0), 0)::bigint, "
            "       coalesce(-sum(p.amount) FILTER (WHERE p.amount < 0), 0)::bigint "
            "FROM ledger_posting p JOIN ledger_account a ON a.id = p.account_id "
            "WHERE a.kind <> 'WALLET' AND p.created_at >= %s AND p.created_at < %s GROUP BY a.kind", [start, end])
        flows = {kind: (received, given) for kind, received, given in cursor.fetchall()}
    clearing = flows.pop("PAYMENT_CLEARING", (0, 0))
    merchants = flows.pop("MERCHANT_SETTLEMENT", (0, 0))
    moved_in = clearing[1] - clearing[0] + merchants[1] - merchants[0] + sum(g - r for r, g in flows.values())
    return CustodyFigures(day=day, opening=opening, outstanding=outstanding, charged=clearing[1], refunded=clearing[0],
                          used=merchants[0], use_reversed=merchants[1], expired=flows.get("EXPIRED_BALANCE", (0, 0))[0],
                          paid_out=flows.get("PAYOUT_CLEARING", (0, 0))[0], moved_in=moved_in)


def wallets_expiring(*, within: timedelta, limit: int) -> list[int]:
    """Users whose wallet holds money that expires within ``within`` from now (0: expired already), and not
    all of it held: older than ``WALLET_BALANCE_VALIDITY_DAYS`` by then, oldest spent first (wallets/sql/
    wallet_fresh_amount.sql). At most ``limit``, by wallet."""
    validity = timedelta(days=settings.WALLET_BALANCE_VALIDITY_DAYS)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT user_id FROM wallets_wallet WHERE balance > 0"
            " AND balance > wallet_fresh_amount(user_id, clock_timestamp() + %s - %s)"
            " AND balance > wallet_held(user_id) ORDER BY id LIMIT %s",
            [within, validity, limit])
        return [row[0] for row in cursor.fetchall()]


def refund_request_get(*, user_id: int, request_id) -> RefundRequest | None:
    """The user's refund request with its card refunds and payouts (another user's is not found)."""
    return (RefundRequest.objects.filter(id=request_id, user_id=user_id)
            .prefetch_related("refunds__payment", "payouts").first())


def refund_requests(*, user_id: int) -> QuerySet[RefundRequest]:
    """The user's refund requests, newest first."""
    return RefundRequest.objects.filter(user_id=user_id).prefetch_related("refunds__payment", "payouts").order_by(
        "-created_at", "-id")
