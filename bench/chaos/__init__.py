"""Chaos run: the whole platform under load while every part of it dies and comes back.

    make chaos                                   # 200 users, 10,000 operations, a random seed
    .venv/bin/python -m bench.chaos --seed 42 --operations 10000 --users 200
    .venv/bin/python -m bench.chaos --short      # what `make test` runs: 1 cycle of every fault, seed 7

It starts a stack of its own (PostgreSQL, Redis, Kafka, Pushpin in ``.devstack/chaos/``,
bench/chaos/settings.py) and every process of the Procfile on it, as ``make run`` does.
Then, at once:

- **users**: N users, each with a browser on its SSE stream (through Pushpin, with its API
  token); a third of them drop their stream every few seconds and come back with
  ``Last-Event-ID``, the others reconnect only when the platform drops them;
- **load**: a steady mix of charges, spends and reversals through the HTTP API, each call
  retried on network errors, 5xx, 429 and "request in flight" with the same
  ``Idempotency-Key``, as a careful client does, until it gets a definite answer;
- **faults** on a schedule drawn from the seed: kill -9 of a gunicorn worker, of the web
  server, the Celery worker, beat, ``run_consumer`` and the channel consumers (each restarted
  after a while); stop/start of PostgreSQL, Redis, Kafka and Pushpin; a crash of PostgreSQL
  (immediate shutdown) and of Kafka (kill -9); SIGSTOP/SIGCONT of the consumer for longer
  than its Kafka session timeout, and of the Celery worker.

When the load is done, the faults stop, the platform drains, and the checks run (see
``checks``). A failed check prints the seed, the fault schedule and the offending ids; the
same ``--seed`` replays the same schedule. Results go to ``.devstack/chaos-results/<seed>.json``
(each event's timeline to ``<seed>-events.csv``), the processes' logs to ``.devstack/chaos/logs/``.
Exit status: 0 when every check passed.

One job a module: ``environment`` (its ports and settings), ``stack`` (the services and the
platform's processes), ``faults`` (the schedule and the injector), ``load`` (the users' API
calls), ``browsers`` (their SSE streams), ``checks``, ``timelines``, ``report``, and ``run``
(which puts them together; ``python -m bench.chaos`` runs it).
"""
