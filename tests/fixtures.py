"""Fixtures shared by the whole suite: real processes of the platform.

Nothing here fakes a service: PostgreSQL, Redis and Kafka are the ones started
by ``scripts/devstack.sh``; processes are the same commands as the Procfile,
pointed at the test database, the test Redis database and the test topics.
"""

import os

import pytest

from tests.support import Process, celery_argv, test_database_url


@pytest.fixture(scope="session")
def app_env(django_db_setup) -> dict[str, str]:
    """Environment for child processes: test settings, test database."""
    env = dict(os.environ)
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    env["DATABASE_URL"] = test_database_url()
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture(scope="session")
def process_factory(tmp_path_factory, app_env):
    """Start platform processes; every one still running is stopped at the end."""
    log_dir = tmp_path_factory.mktemp("process-logs")
    started: list[Process] = []

    def start(name: str, argv: list[str], **env: str) -> Process:
        proc = Process(name, argv, {**app_env, **env}, log_dir)
        started.append(proc.start())
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture(scope="session")
def celery_worker(process_factory):
    """A real Celery worker process consuming from the test Redis database."""
    from prepaid.tasks import worker_identity

    worker = process_factory(
        "celery-worker", celery_argv("worker", "--loglevel=INFO", "--concurrency=2", "--without-mingle",
                                     "--without-gossip", f"--hostname=test-worker-{os.getpid()}@%h")
    )
    worker_identity.delay().get(timeout=60)
    yield worker
