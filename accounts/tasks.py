from celery import shared_task

from accounts import services


@shared_task
def api_tokens_purge_expired() -> int:
    return services.api_tokens_purge_expired()


@shared_task
def sign_in_records_purge() -> int:
    return services.sign_in_records_purge()
