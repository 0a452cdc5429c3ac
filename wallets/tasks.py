from celery import shared_task

from wallets import services


@shared_task
def payment_recover_pending() -> dict:
    return services.payment_recover_pending()


@shared_task
def idempotency_purge_expired() -> int:
    return services.idempotency_purge_expired()
