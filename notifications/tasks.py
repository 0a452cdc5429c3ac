from celery import shared_task

from notifications import services


@shared_task
def processed_events_purge() -> int:
    return services.processed_events_purge()


@shared_task
def sse_events_trim() -> int:
    return services.sse_events_trim()


@shared_task
def notifications_purge() -> int:
    return services.notifications_purge()
