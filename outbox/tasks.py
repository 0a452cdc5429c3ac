import dataclasses

from celery import shared_task

from outbox import relay, services


@shared_task(acks_late=False)
def outbox_relay(wait_for_lock: bool = True) -> dict:
    # Cleared before draining: a commit from now on queues a new run, so none is missed.
    services.outbox_relay_flag_clear()
    return dataclasses.asdict(relay.outbox_relay_run(wait_for_lock=wait_for_lock))


@shared_task
def outbox_purge_published() -> int:
    return services.outbox_purge_published()
