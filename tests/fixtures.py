"""Fixtures shared by the whole suite: real processes of the platform.

Nothing here fakes a service: PostgreSQL, Redis and Kafka are the ones started
by ``scripts/devstack.sh``; processes are the same commands as the Procfile,
pointed at the test database, the test Redis database and the test topics.
"""

import os
import sys
import tempfile
import uuid

import pytest

from tests.support import Process, celery_argv, test_database_url


@pytest.fixture(scope="session", autouse=True)
def kafka_topics():
    """The test topics (test.wallet-events and its DLT), created once per run if missing."""
    from prepaid.kafka import kafka_topics_ensure

    kafka_topics_ensure()


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


@pytest.fixture
def start_celery_worker(process_factory):
    """Start a real Celery worker (consuming the test Redis database) and wait until it runs tasks."""
    from tests.tasks import worker_identity

    started = []

    def start(name: str = "celery-worker", **env: str) -> Process:
        env.setdefault("DATABASE_CONN_MAX_AGE_S", "60")  # as the Procfile runs it
        worker = process_factory(
            name,
            celery_argv("worker", "--loglevel=INFO", "--concurrency=2", "--without-mingle", "--without-gossip",
                        f"--hostname={name}-{os.getpid()}-{len(started)}@%h"),
            **env,
        )
        started.append(worker)
        worker_identity.delay().get(timeout=60)
        return worker

    yield start
    for worker in started:
        worker.kill_group()
    if started:
        # A worker killed during a relay run leaves the run's flag behind (it would expire after
        # OUTBOX_TRIGGER_FLAG_TTL_S, and the beat sweep relays meanwhile); the next test starts
        # without it, as if that time had passed.
        from outbox.services import outbox_relay_flag_clear

        outbox_relay_flag_clear()


@pytest.fixture
def celery_worker(start_celery_worker):
    return start_celery_worker()


@pytest.fixture
def celery_beat(process_factory, tmp_path):
    beat = process_factory("celery-beat", celery_argv("beat", "--loglevel=INFO", f"--schedule={tmp_path}/beat"))
    yield beat
    beat.stop()


@pytest.fixture
def user_factory(django_user_model):
    counter = iter(range(1, 10**9))

    def make(**kwargs):
        name = kwargs.pop("username", None) or f"user-{os.getpid()}-{next(counter)}-{uuid.uuid4().hex[:6]}"
        return django_user_model.objects.create_user(username=name, password="pw-" + name, **kwargs)

    return make


@pytest.fixture
def user(user_factory):
    return user_factory()


@pytest.fixture
def api_client_for():
    """An API client authenticated with the user's DRF token, as API clients are."""
    from rest_framework.test import APIClient

    from tests.helpers import api_token

    tokens = {}

    def make(user):
        if user.pk not in tokens:
            tokens[user.pk] = api_token(user)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {tokens[user.pk]}")
        return client

    return make


@pytest.fixture
def api(api_client_for, user):
    return api_client_for(user)


@pytest.fixture
def kafka_tail():
    """Tail a topic (default: the wallet events topic) from its current end."""
    from django.conf import settings

    from tests.support import KafkaTail

    tails = []

    def make(topic: str | None = None) -> KafkaTail:
        tails.append(KafkaTail(topic or settings.KAFKA_TOPIC_WALLET_EVENTS))
        return tails[-1]

    yield make
    for tail in tails:
        tail.close()


class Platform:
    """The running platform as users reach it: the front proxy and Pushpin in front of the web process (gunicorn),
    Celery worker and beat, run_consumer."""

    def __init__(self, start, pushpin):
        self._start = start
        self.pushpin = pushpin
        self.web = self.worker = self.beat = self.consumer = None

    @property
    def base_url(self) -> str:
        """The public address: Pushpin."""
        return self.pushpin.base_url

    def start_web(self, **env: str):
        import httpx
        from django.conf import settings

        from tests.support import wait_until

        self.web = self._start("web", [sys.executable, "-m", "gunicorn", "prepaid.wsgi:application",
                                       "--config", "deploy/gunicorn.conf.py"],
                               **{"WEB_BIND": f"127.0.0.1:{settings.TEST_WEB_PORT}", "WEB_WORKERS": "2",
                                  "DATABASE_CONN_MAX_AGE_S": "60", **env})

        def up():
            try:
                return httpx.get(f"{self.base_url}/health/live", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, timeout_s=30, what="the web process behind Pushpin")

    def start_consumer(self, name: str = "consumer", **env: str):
        self.consumer = self._start(name, [sys.executable, "manage.py", "run_consumer"], **env)
        return self.consumer


@pytest.fixture(scope="session")
def pushpin():
    """The tests' Pushpin, in front of the port the tests' web process listens on."""
    from django.conf import settings

    from tests.support import Pushpin

    instance = Pushpin("test-pushpin", port=settings.TEST_PUSHPIN_PORT, origin_port=settings.TEST_WEB_PORT,
                       port_offset=settings.TEST_PUSHPIN_PORT_OFFSET).start()
    yield instance
    instance.stop()


@pytest.fixture
def web(process_factory, app_env, transactional_db, pushpin):
    """Start the web process (gunicorn) behind the tests' Pushpin, alone, with these settings (environment);
    returns the platform as API clients reach it (``base_url``). Stopped after the test."""
    started = []

    def start_process(name, argv, **env):
        started.append(process_factory(name, argv, **env))
        return started[-1]

    def start(**env: str) -> Platform:
        platform = Platform(start_process, pushpin)
        platform.start_web(**env)
        return platform

    yield start
    for proc in started:
        proc.stop()
        proc.kill_group()


@pytest.fixture
def platform(process_factory, start_celery_worker, app_env, transactional_db, pushpin):
    """Web, worker, beat and consumer, started fresh for a test (stopped after it)."""
    from django.conf import settings

    from tests.support import celery_argv, kafka_group_skip_to_end

    # Earlier tests' records (for users long gone) are not this test's business.
    for topic, group_id in ((settings.KAFKA_TOPIC_WALLET_EVENTS, settings.NOTIFICATIONS_CONSUMER_GROUP),
                            (settings.KAFKA_TOPIC_WALLET_EVENTS_DLT, settings.NOTIFICATIONS_DLT_STORE_GROUP)):
        kafka_group_skip_to_end(topic=topic, group_id=group_id)
    started = []

    def start(name, argv, **env):
        proc = process_factory(name, argv, **env)
        started.append(proc)
        return proc

    platform = Platform(start, pushpin)
    platform.worker = start_celery_worker("platform-worker")
    platform.beat = start("platform-beat", celery_argv("beat", "--loglevel=INFO",
                                                       f"--schedule={tempfile.gettempdir()}/beat-{uuid.uuid4().hex}"))
    platform.start_web()
    platform.start_consumer()
    yield platform
    for proc in reversed(started):
        proc.stop()  # gracefully: the consumer leaves its group
        proc.kill_group()


@pytest.fixture
def toss(settings):
    """A local server speaking Toss Payments' API (tests/fake_toss.py), and the settings that select it."""
    from tests.fake_toss import CLIENT_KEY, SECRET_KEY, FakeToss

    fake = FakeToss(timeout_s=2).start()
    settings.PAYMENT_GATEWAY = "toss"
    settings.TOSS_API_BASE_URL = fake.base_url
    settings.TOSS_SECRET_KEY, settings.TOSS_CLIENT_KEY = SECRET_KEY, CLIENT_KEY
    settings.TOSS_READ_TIMEOUT_S = 1  # the fake's late answers come after 2 s
    yield fake
    fake.stop()


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_superuser(f"ops-{uuid.uuid4().hex[:8]}", "ops@example.com", "pw")
