import dataclasses
import time

from celery import shared_task
from django.conf import settings

from outbox import relay, services


@shared_task(acks_late=False)
def outbox_relay(slot: int | None = None) -> dict:
    """A run of relay ``slot`` (of ``OUTBOX_RELAYS``) queued by a commit (``outbox_relay_trigger``);
    without a slot, a run over every partition no other run holds.

    The slot's trigger flag stays set while this run drains, so commits meanwhile queue
    nothing for it (their rows are claimed by this run's next batches). The flag is cleared
    at the end, then the slot's partitions are drained once more: a commit that saw the flag
    set had committed before the clear, so that last drain claims its row; a commit after
    the clear queues the next run.
    """
    slots = settings.OUTBOX_RELAYS if slot is not None else None
    if settings.OUTBOX_RELAY_GATHER_MS:  # commits meanwhile see the flag set: their rows join this run's batch
        time.sleep(settings.OUTBOX_RELAY_GATHER_MS / 1000)
    result = relay.outbox_relay_run(slot=slot, slots=slots)
    if slot is not None:
        services.outbox_relay_flag_clear(slot)
    result.add(relay.outbox_relay_run(slot=slot, slots=slots, wait_for_lock=False))
    return dataclasses.asdict(result)


@shared_task
def outbox_relay_sweep() -> dict:
    """The beat's safety sweep (every second): events whose trigger was lost (Redis down,
    a process died) still go out, and a dead relay's partitions are published. Takes only
    the partitions no run holds; returns at once if every one is held."""
    return dataclasses.asdict(relay.outbox_relay_run(wait_for_lock=False))


@shared_task
def outbox_purge_published() -> int:
    return services.outbox_purge_published()
