"""Several processes of one management command, supervised by the process that started them: the
members of a consumer group, each with a core and a GIL of its own (Kafka shares the topic's
partitions among them)."""

import ctypes
import ctypes.util
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading

from django.conf import settings

logger = logging.getLogger(__name__)


def command_processes_run(command: list[str], processes: int) -> int | None:
    """Run ``processes`` copies of the management command ``command`` (its name and arguments), each a
    process of its own, until SIGTERM or SIGINT (passed on: each finishes what it holds), or until one
    exits by itself, which stops the others (the supervisor above restarts the whole). Returns that
    one's exit code, None after a stop asked for."""
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: no threads or sockets copied
    members = [context.Process(target=_member, args=(command,), name=f"{command[0]}-{i + 1}")
               for i in range(processes)]
    stopping = threading.Event()

    def request_stop(signum, frame):
        logger.info("signal %s: stopping %d %s processes", signum, len(members), command[0])
        stopping.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    for member in members:
        member.start()
    failed = None
    while not stopping.is_set() and failed is None:
        multiprocessing.connection.wait([m.sentinel for m in members], timeout=0.5)
        failed = next((m for m in members if m.exitcode is not None), None)
    if failed is not None:
        logger.error("%s (pid %s) exited with %s: stopping the others", failed.name, failed.pid, failed.exitcode)
    for member in members:
        if member.is_alive():
            member.terminate()
    for member in members:
        member.join(timeout=settings.COMMAND_PROCESS_STOP_TIMEOUT_S)
        if member.is_alive():
            logger.error("%s (pid %s) still running after %d s: killed", member.name, member.pid,
                         settings.COMMAND_PROCESS_STOP_TIMEOUT_S)
            member.kill()
            member.join()
    return failed.exitcode if failed is not None else None


def _member(command: list[str]) -> None:
    import django

    django.setup()
    _die_with_parent()
    from django.core.management import call_command

    call_command(*command)


def _die_with_parent() -> None:
    """Linux: this process gets SIGTERM when its parent dies, even by kill -9: no member outlives its
    supervisor to hold partitions against the ones that replace it."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:  # the parent died before that took effect
        os.kill(os.getpid(), signal.SIGTERM)
