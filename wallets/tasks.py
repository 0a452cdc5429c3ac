import logging

from celery import shared_task

from wallets import metrics, services

logger = logging.getLogger(__name__)


@shared_task
def payment_recover_pending() -> dict:
    return services.payment_recover_pending()


@shared_task
def hold_expire_due() -> int:
    return services.hold_expire_due()


@shared_task
def idempotency_purge_expired() -> int:
    return services.idempotency_purge_expired()


@shared_task
def wallet_ledger_reconcile() -> dict:
    """The incremental reconcile, on a schedule (what changed since the last run's mark): a mismatch is logged
    as an error for alerting. The full pass is an operator's ``reconcile_ledger``."""
    found = services.ledger_reconcile(limit=100)
    metrics.RECONCILE_MISMATCHES.set(found.mismatches)
    if not found.clean:
        logger.error("ledger mismatch: wallets=%s entries=%s postings=%s", found.wallet_mismatches,
                     found.unbalanced_entries, found.broken_postings)
    return {"wallet_mismatches": len(found.wallet_mismatches), "unbalanced_entries": len(found.unbalanced_entries),
            "broken_postings": len(found.broken_postings), "postings_checked": found.postings_checked}


@shared_task
def custody_report_yesterday() -> dict:
    """Yesterday's outstanding-balance report (Korean time), written early each day (and again by each
    run until midnight passes: idempotent); the day before is written again too, in case a late entry."""
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()
    reports = [services.custody_report_make(day=today - timedelta(days=days)) for days in (2, 1)]
    return {str(r.day): {"outstanding": r.outstanding, "difference": r.difference} for r in reports}


@shared_task
def balance_expiry_sweep() -> dict:
    return services.balance_expiry_sweep()
