"""The wallets' metrics (prepaid/metrics.py tells how they are served)."""

from django.db import connection
from prometheus_client import Counter, Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

OPERATIONS = Counter("prepaid_wallet_operations", "Wallet operations asked for, by type (charge, spend, reversal, "
                     "transfer, hold, capture, hold_void, hold_expiry) "
                     "and outcome (done, replayed, refused, unavailable).", ["type", "outcome"])
GATEWAY_ANSWERS_UNREADABLE = Counter(
    "prepaid_gateway_answers_unreadable", "Successful answers of the payment gateway that could not be read (not "
    "JSON, a field missing or of the wrong type): outcomes left unknown, settled by recovery.",
    ["gateway", "operation"])
RECONCILE_MISMATCHES = Gauge("prepaid_ledger_reconcile_mismatches", "Wallets and entries that disagreed with their "
                             "postings at the last periodic reconcile.", multiprocess_mode="mostrecent")


class PaymentCollector(Collector):
    """What waits on the payment gateway, read at each scrape (partial indexes: never the whole table)."""

    def collect(self):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT count(*) FROM wallets_payment WHERE status = 'PENDING'), "
                "(SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM wallets_payment "
                " WHERE status = 'PENDING'), "
                "(SELECT count(*) FROM wallets_refund WHERE status = 'REQUESTED'), "
                "(SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM wallets_refund "
                " WHERE status = 'REQUESTED'), "
                "(SELECT count(*) FROM wallets_refund WHERE status = 'UNCOVERED'), "
                "(SELECT count(*) FROM wallets_hold WHERE status = 'ACTIVE'), "
                "(SELECT coalesce(sum(amount - captured), 0) FROM wallets_hold WHERE status = 'ACTIVE'), "
                "(SELECT coalesce(extract(epoch FROM now() - min(expires_at)), 0) FROM wallets_hold "
                " WHERE status = 'ACTIVE' AND expires_at <= now()), "
                "(SELECT count(*) FROM wallets_payout WHERE status = 'REQUESTED'), "
                "(SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM wallets_refundrequest "
                " WHERE status = 'PROCESSING')")
            (pending, oldest_s, refunds_requested, refund_oldest_s, refunds_uncovered, holds_active, held_won,
             overdue_s, payouts_requested, request_oldest_s) = cursor.fetchone()
        yield from _custody()
        yield GaugeMetricFamily("prepaid_holds_active", "Holds still active (client holds and refunds' holds).",
                                holds_active)
        yield GaugeMetricFamily("prepaid_holds_active_won", "Won the active holds keep out of available balances.",
                                float(held_won))
        yield GaugeMetricFamily("prepaid_holds_overdue_seconds", "How long the oldest active hold has been past its "
                                "expiry (0 when none): the expiry sweep is behind when this grows.", float(overdue_s))
        payments = GaugeMetricFamily("prepaid_payments", "Payments by status: PENDING ones wait for the gateway "
                                     "or recovery (settled ones are counted by prepaid_wallet_operations_total).",
                                     labels=["status"])
        payments.add_metric(["PENDING"], pending)
        yield payments
        yield GaugeMetricFamily("prepaid_payments_oldest_pending_age_seconds",
                                "Age of the oldest PENDING payment (0 when none).", float(oldest_s))
        refunds = GaugeMetricFamily("prepaid_refunds", "Refunds waiting for the gateway (REQUESTED) or for an "
                                    "operator (UNCOVERED).", labels=["status"])
        refunds.add_metric(["REQUESTED"], refunds_requested)
        refunds.add_metric(["UNCOVERED"], refunds_uncovered)
        yield refunds
        yield GaugeMetricFamily("prepaid_payouts_requested", "Payouts to bank accounts whose outcome at the payout "
                                "gateway is not known yet.", payouts_requested)
        yield GaugeMetricFamily("prepaid_refund_requests_oldest_processing_age_seconds",
                                "Age of the oldest remaining-balance refund still processing (0 when none).",
                                float(request_oldest_s))
        yield GaugeMetricFamily("prepaid_refunds_oldest_requested_age_seconds",
                                "Age of the oldest REQUESTED refund, whose outcome at the gateway is not known yet "
                                "(0 when none).", float(refund_oldest_s))


def _custody():
    """The newest report whose custody an operator recorded (docs/compliance.md): its ratio, and its age."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT day, outstanding, custody_amount, (now() AT TIME ZONE 'Asia/Seoul')::date - day "
                       "FROM wallets_custodyreport WHERE custody_amount IS NOT NULL ORDER BY day DESC LIMIT 1")
        row = cursor.fetchone()
    if row is None:
        return
    _day, outstanding, custody, age_days = row
    yield GaugeMetricFamily("prepaid_custody_ratio", "What the trust account held over what users held (선불충전금), "
                            "at the end of the newest day whose custody an operator recorded: below 1, users' money "
                            "is not fully kept apart.", custody / outstanding if outstanding else 1.0)
    yield GaugeMetricFamily("prepaid_custody_recorded_age_days", "Days since the end of the newest day whose custody "
                            "an operator recorded.", float(age_days))
