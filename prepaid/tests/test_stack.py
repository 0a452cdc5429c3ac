"""The services behind the platform are the real ones, and the platform checks them."""

import os
import subprocess
import sys
import uuid

import pytest
import redis
from django.conf import settings
from django.db import connection
from kafka import KafkaConsumer, KafkaProducer
from kafka.structs import TopicPartition

from prepaid.kafka import kafka_admin
from tests.support import ROOT, Process, free_port, wait_until


@pytest.mark.django_db
def test_database_is_postgresql():
    assert connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        # generate_series and ::int casts exist in PostgreSQL, not in SQLite.
        cursor.execute(
            "SELECT sum(n)::int, current_setting('server_version_num')::int FROM generate_series(1, 10) AS n"
        )
        total, version = cursor.fetchone()
    assert total == 55
    assert version >= 150000


def test_redis_is_a_real_server():
    client = redis.Redis.from_url(settings.REDIS_URL)
    info = client.info("server")
    assert info["tcp_port"] > 0
    assert info["redis_version"]


def test_kafka_produce_consume_round_trip():
    topic = f"test.roundtrip.{uuid.uuid4().hex[:8]}"
    with kafka_admin() as admin:
        admin.create_topics({topic: {"num_partitions": 1, "replication_factor": 1}}, wait_for_metadata=True)
    try:
        producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, acks="all")
        value = uuid.uuid4().bytes
        metadata = producer.send(topic, key=b"user-1", value=value).get(timeout=30)
        producer.close()
        assert metadata.offset == 0

        consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, enable_auto_commit=False,
                                 consumer_timeout_ms=15000)
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        record = next(iter(consumer))
        consumer.close()
        assert (record.key, record.value) == (b"user-1", value)
    finally:
        with kafka_admin() as admin:
            admin.delete_topics([topic])


def test_project_topics_exist_with_their_partitions():
    from prepaid.kafka import kafka_topic_specs, kafka_topics_ensure

    kafka_topics_ensure()
    assert kafka_topics_ensure() == []  # idempotent: nothing created the second time
    with kafka_admin() as admin:
        described = {t["name"]: t for t in admin.describe_topics(list(kafka_topic_specs()))}
    assert len(described[settings.KAFKA_TOPIC_WALLET_EVENTS]["partitions"]) == 6
    assert settings.KAFKA_TOPIC_WALLET_EVENTS_DLT == settings.KAFKA_TOPIC_WALLET_EVENTS + ".DLT"


def test_celery_task_runs_in_a_real_worker(celery_worker):
    from tests.tasks import worker_identity

    result = worker_identity.delay().get(timeout=30)
    assert result["pid"] != os.getpid()
    assert celery_worker.alive()


@pytest.mark.django_db
def test_health_live(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_health_ready_when_everything_is_up(client):
    response = client.get("/health/ready")
    assert response.status_code == 200, response.json()
    assert response.json()["checks"] == {"database": "ok", "redis": "ok", "kafka": "ok"}


@pytest.mark.django_db
def test_health_ready_turns_503_when_redis_stops(client, settings, tmp_path):
    port = free_port()
    server = Process("redis-health", ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                                      "--dir", str(tmp_path)], dict(os.environ), tmp_path).start()
    try:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        wait_until(lambda: client.get("/health/ready").status_code == 200, timeout_s=10, what="redis up")
        server.kill9()
        response = client.get("/health/ready")
        assert response.status_code == 503
        assert response.json()["failed"] == ["redis"]
        assert "redis" in response.json()["message"]
    finally:
        server.stop()


@pytest.mark.django_db
def test_health_ready_turns_503_when_kafka_is_unreachable(client, settings):
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{free_port()}"]
    settings.HEALTH_CHECK_TIMEOUT_S = 1
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.json()["failed"] == ["kafka"]


def test_settings_refuse_the_insecure_secret_key_without_debug():
    from prepaid.settings import INSECURE_SECRET_KEY

    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DEBUG")}
    # Set, so that the checkout's .env (which has a generated key) does not supply one.
    env.update(DJANGO_SETTINGS_MODULE="prepaid.settings", DEBUG="0", SECRET_KEY=INSECURE_SECRET_KEY)
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr

    env["SECRET_KEY"] = "a-real-secret-" + uuid.uuid4().hex
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_devstack_names_a_port_already_in_use(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        env = dict(os.environ, DEVSTACK_DIR=str(tmp_path), DEVSTACK_REDIS_PORT=str(port))
        result = subprocess.run(["scripts/devstack.sh", "start", "redis"], cwd=ROOT, env=env,
                                capture_output=True, text=True)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {port} is already in use" in lines[0]
    assert "DEVSTACK_REDIS_PORT" in lines[0]


@pytest.fixture
def devstack_kafka(tmp_path):
    """Run ``devstack.sh start kafka`` in a fresh directory, on free ports, with some commands missing
    from PATH; whatever it started is stopped afterwards."""
    env = dict(os.environ, DEVSTACK_DIR=str(tmp_path / "stack"), DEVSTACK_KAFKA_PORT=str(free_port()),
               DEVSTACK_KAFKA_CONTROLLER_PORT=str(free_port()))

    def run(*, without: set[str], **extra_env: str) -> subprocess.CompletedProcess:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
            for tool in os.listdir(directory):
                target = bin_dir / tool
                if tool not in without and not target.exists():
                    target.symlink_to(os.path.join(directory, tool))
        return subprocess.run(["bash", "scripts/devstack.sh", "start", "kafka"], cwd=ROOT,
                              env={**env, **extra_env, "PATH": str(bin_dir)}, capture_output=True, text=True,
                              timeout=300)

    yield run
    subprocess.run(["bash", "scripts/devstack.sh", "stop", "kafka"], cwd=ROOT, env=env, capture_output=True,
                   timeout=120)


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_devstack_says_java_is_missing_in_one_line(devstack_kafka):
    line = _one_line(devstack_kafka(without={"java"}))
    assert "Java not found" in line and "apt-get install openjdk-17-jre-headless" in line


def test_devstack_says_maven_is_missing_in_one_line(devstack_kafka):
    line = _one_line(devstack_kafka(without={"mvn"}))
    assert "Maven (mvn) not found" in line and "apt-get install maven" in line


def test_devstack_says_maven_central_is_unreachable_in_one_line(devstack_kafka, tmp_path):
    # A real Maven run with an empty local repository and every download sent to a closed port.
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text(
        "<settings><mirrors><mirror><id>nowhere</id><mirrorOf>*</mirrorOf>"
        f"<url>http://127.0.0.1:{free_port()}/maven2</url></mirror></mirrors></settings>")
    line = _one_line(devstack_kafka(without=set(), MAVEN_OPTS=f"-Duser.home={home}"))
    assert "could not fetch Kafka jars with Maven (Maven Central unreachable?)" in line
    assert "127.0.0.1" in (tmp_path / "stack" / "kafka" / "mvn.log").read_text()
