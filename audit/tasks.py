from celery import shared_task

from audit import services


@shared_task
def audit_partitions_ensure() -> list[str]:
    return services.audit_partitions_ensure()


@shared_task
def audit_seal_today() -> str | None:
    seal = services.audit_seal_today()
    return seal.seal_hash if seal else None


@shared_task
def audit_reconcile() -> dict:
    """audit_reconcile on a schedule, over the last day up to AUDIT_RECONCILE_LAG_S ago: the mismatches
    as a metric (an alert rule pages on it) and an error log line."""
    import datetime
    import logging

    from django.conf import settings
    from django.utils import timezone

    from audit import metrics
    from audit.selectors import audit_reconcile as reconcile

    end = timezone.now() - datetime.timedelta(seconds=settings.AUDIT_RECONCILE_LAG_S)
    found = reconcile(start=end - datetime.timedelta(days=1), end=end)
    metrics.RECONCILE_MISMATCHES.set(len(found.missing) + len(found.unexplained))
    if not found.clean:
        logging.getLogger(__name__).error("audit store mismatch: missing=%s unexplained=%s", found.missing,
                                          found.unexplained)
    return {"missing": len(found.missing), "unexplained": len(found.unexplained)}
