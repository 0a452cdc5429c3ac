import logging

from celery import shared_task

from ledger.selectors import ledger_unbalanced_entries
from wallets.selectors import wallet_balance_mismatches

logger = logging.getLogger(__name__)


@shared_task
def ledger_reconcile() -> dict:
    """The reconcile_ledger check, on a schedule: a mismatch is logged as an error for alerting."""
    wallets = wallet_balance_mismatches(limit=100)
    entries = ledger_unbalanced_entries(limit=100)
    if wallets or entries:
        logger.error("ledger mismatch: wallets=%s entries=%s", wallets, entries)
    return {"wallet_mismatches": len(wallets), "unbalanced_entries": len(entries)}
