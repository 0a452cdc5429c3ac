"""Tasks the test suite runs in real Celery workers ("tests" is an installed app in tests/settings.py)."""

import os
import socket

from celery import shared_task


@shared_task(ignore_result=False)
def worker_identity() -> dict:
    """Where a task ran: with a result backend (the tests set one), shows a worker is alive."""
    return {"hostname": socket.gethostname(), "pid": os.getpid()}


@shared_task(ignore_result=False)
def nap(seconds: float) -> float:
    """Hold a worker's process for a while (a task in flight, unacknowledged: acks_late)."""
    import time

    time.sleep(seconds)
    return seconds
