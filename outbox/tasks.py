import dataclasses

from celery import shared_task

from outbox import relay, services


@shared_task(acks_late=False)
def outbox_relay() -> dict:
    """A relay run queued by a commit (``outbox_relay_trigger``).

    The trigger's flag stays set while this run drains, so commits meanwhile queue
    nothing (their rows are claimed by this run's next batches). The flag is cleared
    at the end, then the outbox is drained once more: a commit that saw the flag set
    had committed before the clear, so that last drain claims its row; a commit after
    the clear queues the next run.
    """
    result = relay.outbox_relay_run()
    services.outbox_relay_flag_clear()
    result.add(relay.outbox_relay_run(wait_for_lock=False))
    return dataclasses.asdict(result)


@shared_task
def outbox_relay_sweep() -> dict:
    """The beat's safety sweep (every second): events whose trigger was lost (Redis down,
    a process died) still go out. Returns at once if a run holds the relay lock."""
    return dataclasses.asdict(relay.outbox_relay_run(wait_for_lock=False))


@shared_task
def outbox_purge_published() -> int:
    return services.outbox_purge_published()
