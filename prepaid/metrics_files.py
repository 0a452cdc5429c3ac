"""How each process names its metrics files (prometheus-client's multiprocess mode): by host and pid,
so that containers sharing one directory never write to one another's files (their pids repeat).
No Django here: gunicorn's master uses it too (deploy/gunicorn.conf.py)."""

import os
import socket


def metrics_process_id(pid: int | None = None) -> str:
    # No "_": prometheus-client splits the file names on it.
    return f"{socket.gethostname().replace('_', '-')}-{pid or os.getpid()}"
