"""gunicorn, the WSGI server Django runs on (behind the front proxy; Pushpin holds the SSE streams).

Every value comes from the environment, with the local defaults of ``make run``:

- ``WEB_BIND`` (``127.0.0.1:8001``): where Pushpin reaches Django; not public.
- ``WEB_WORKERS`` (2 per core + 1): processes, each answering one request at a time
  (``WEB_THREADS`` threads each; 1 = gunicorn's sync worker, the cheapest per
  request). A request never waits on a stream: Pushpin holds those.
- ``WEB_TIMEOUT_S`` (30): a worker silent this long is killed and replaced.
- ``WEB_MAX_REQUESTS`` (10,000, +10 % jitter): a worker is recycled after this many
  requests, so that no slow leak grows without bound.
"""

import multiprocessing
import os

bind = os.environ.get("WEB_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("WEB_WORKERS") or multiprocessing.cpu_count() * 2 + 1)
threads = int(os.environ.get("WEB_THREADS") or 1)
worker_class = "sync" if threads == 1 else "gthread"
timeout = int(os.environ.get("WEB_TIMEOUT_S") or 30)
graceful_timeout = timeout
max_requests = int(os.environ.get("WEB_MAX_REQUESTS") or 10_000)
max_requests_jitter = max_requests // 10
# A request is handed to the worker as soon as it is read; Pushpin keeps its connections open.
keepalive = 5
accesslog = None
errorlog = "-"
loglevel = os.environ.get("WEB_LOG_LEVEL", "warning")
proc_name = "prepaid-web"


def child_exit(server, worker):
    """A worker's live gauges leave /metrics with it (prometheus-client's multiprocess mode)."""
    from prometheus_client import multiprocess

    from prepaid.metrics_files import metrics_process_id

    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".devstack", "metrics")
    if os.path.isdir(path):
        multiprocess.mark_process_dead(metrics_process_id(worker.pid), path)
