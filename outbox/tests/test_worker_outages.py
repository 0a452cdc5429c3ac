"""The Celery worker (the outbox relay's) outlives an outage of its broker, Redis."""

import shutil

import pytest

from prepaid.celery import app as celery_app
from tests.support import celery_argv, free_port, wait_until
from tests.tasks import nap, worker_identity

pytestmark = pytest.mark.e2e


def test_the_worker_survives_a_broker_restart_with_a_task_in_flight(process_factory):
    """Celery 5.7.0 closed the broken connection after collecting it; with an unacknowledged task
    (acks_late) that crashed the worker ("Unrecoverable error: AttributeError ... 'hostname'"), found
    by the chaos run. The worker must reconnect and go on working."""
    port = free_port()
    redis = [shutil.which("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--save", "",
             "--appendonly", "no"]
    broker = f"redis://127.0.0.1:{port}/0"
    server = process_factory("broker-redis", redis)
    wait_until(lambda: "Ready to accept connections" in server.log(), timeout_s=30, what="the broker")
    # As the Procfile runs it (gossip, mingle and heartbeats on: more channels on the broker).
    worker = process_factory("worker-own-broker", celery_argv(
        "worker", "--loglevel=INFO", "--concurrency=2", f"--hostname=outage-{port}@%h"), CELERY_BROKER_URL=broker)
    try:
        for outage in range(3):
            with celery_app.connection_for_write(broker) as connection:
                worker_identity.apply_async(connection=connection).get(timeout=60)  # it works
                for _ in range(200):  # acknowledgements in flight when the broker dies
                    nap.apply_async(args=[0.01], connection=connection)
            wait_until(lambda n=outage: worker.log().count("tests.tasks.nap") > 50 * (n + 1), timeout_s=30,
                       what="tasks to run")
            server.kill9()  # the broker dies, tasks unacknowledged (acks_late)
            wait_until(lambda n=outage: worker.log().count("Connection to broker lost") > n or not worker.alive(),
                       timeout_s=30, what="the worker to notice")
            server = process_factory("broker-redis", redis)  # and comes back, empty
            wait_until(lambda s=server: "Ready to accept connections" in s.log(), timeout_s=30,
                       what="the broker back")
            with celery_app.connection_for_write(broker) as connection:
                result = worker_identity.apply_async(connection=connection)
            assert result.get(timeout=60)["pid"], "the worker runs tasks again"
            assert worker.alive(), worker.log()[-5000:]
        assert "Unrecoverable error" not in worker.log()
    finally:
        worker.kill_group()
        server.stop()
