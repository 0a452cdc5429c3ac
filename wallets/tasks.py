import logging

from celery import shared_task

from wallets import metrics, selectors, services

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
    """The reconcile_ledger check, on a schedule: a mismatch is logged as an error for alerting."""
    found = selectors.wallet_ledger_reconcile(limit=100)
    metrics.RECONCILE_MISMATCHES.set(len(found.wallet_mismatches) + len(found.unbalanced_entries))
    if not found.clean:
        logger.error("ledger mismatch: wallets=%s entries=%s", found.wallet_mismatches, found.unbalanced_entries)
    return {"wallet_mismatches": len(found.wallet_mismatches), "unbalanced_entries": len(found.unbalanced_entries)}
