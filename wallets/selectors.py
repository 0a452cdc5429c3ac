"""Reads of wallets and their transactions. Every list is bounded (paginated)."""

import dataclasses
from datetime import date, datetime, time, timedelta

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
    Q,
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
from wallets.models import (
    ChargeOrder,
    Hold,
    HoldPurpose,
    Operation,
    OperationKind,
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


def wallet_transactions(*, user_id: int) -> QuerySet[Operation]:
    """The wallet's operations as its user sees them, newest first: theirs, and the transfers and returns
    they received. Each with the wallet's balance after it and the way the money went (its posting's),
    the other user of a transfer, how much of it was reversed and how much the user can still reverse:
    the rule ``wallet_reverse`` applies (wallets/sql/wallet_reversible_amount.sql; a transfer is final
    for its sender)."""
    posting = Posting.objects.filter(entry_id=OuterRef("pk"), account__wallet__user_id=user_id)
    reversed_amount = (Operation.objects.filter(reverses_id=OuterRef("pk")).order_by()
                       .values("reverses_id").annotate(total=Sum("amount")).values("total"))
    return (
        Operation.objects.filter(Q(user_id=user_id) | Q(counterparty_id=user_id))
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
        .order_by("-created_at", "-pk")
    )


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
        .select_related("entry__operation__user", "entry__operation__counterparty")
        .order_by("created_at", "id")[:lines_max + 1])
    if len(postings) > lines_max:
        raise StatementTooLong(lines_max)
    lines, running = [], opening
    for posting in postings:
        running += posting.amount
        if posting.balance_after != running:
            raise StatementMismatch(f"posting {posting.id}: balance after {posting.balance_after}, running {running}")
        operation = posting.entry.operation
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
    """What ``reconcile_ledger`` found: wallets whose balance is not their postings, unbalanced entries."""

    wallet_mismatches: list[dict]
    unbalanced_entries: list[dict]

    @property
    def clean(self) -> bool:
        return not self.wallet_mismatches and not self.unbalanced_entries


def wallet_ledger_reconcile(*, limit: int = 1000) -> LedgerReconciliation:
    """Check wallets against the ledger and the ledger against itself (at most ``limit`` of each)."""
    return LedgerReconciliation(wallet_mismatches=wallet_balance_mismatches(limit=limit),
                                unbalanced_entries=ledger_unbalanced_entries(limit=limit))


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
