"""The consumer loop against the real broker: what happens to a member that falls out of its group."""

import threading
import uuid

from kafka import KafkaProducer
from kafka.admin import NewTopic

from notifications.consumer import _Loop
from prepaid.kafka import kafka_admin
from tests.support import wait_until


class HoldingLoop(_Loop):
    """Records every record it handles; holds the first one until told to let go."""

    def __init__(self, stop: threading.Event, *, topic: str, group_id: str):
        super().__init__(stop)
        self.topic, self.group_id = topic, group_id
        self.handled: list[tuple[int, int]] = []
        self.holding = threading.Event()
        self.let_go = threading.Event()

    def handle(self, record) -> bool:
        if not self.handled:
            self.holding.set()
            self.let_go.wait(60)
        self.handled.append((record.partition, record.offset))
        return True


def _committed(group: str, topic: str) -> dict[int, int]:
    with kafka_admin() as admin:
        offsets = admin.list_group_offsets(group)[group]
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


def test_a_consumer_put_out_of_its_group_mid_batch_rejoins_and_commits_instead_of_crashing(settings, caplog):
    settings.NOTIFICATIONS_CONSUMER_MAX_POLL_INTERVAL_MS = 4_000
    topic, group = f"test.rejoin-{uuid.uuid4().hex[:8]}", f"test.rejoin-{uuid.uuid4().hex[:8]}"
    with kafka_admin() as admin:
        admin.create_topics([NewTopic(topic, num_partitions=2, replication_factor=1)], wait_for_metadata=True)
    producer = KafkaProducer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS)
    for partition in (0, 1):
        producer.send(topic, value=b"x", partition=partition).get(timeout=30)
    producer.close()

    stop = threading.Event()
    loop = HoldingLoop(stop, topic=topic, group_id=group)
    crashed: list[BaseException] = []

    def run():
        try:
            loop.run()
        except BaseException as exc:
            crashed.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert loop.holding.wait(60), "the loop never got a record"
        # Longer than the poll interval on one record: the member is put out of the group.
        wait_until(lambda: "leaving group" in caplog.text.lower() or "poll timeout" in caplog.text.lower(),
                   timeout_s=30, interval_s=0.5, what="the member to leave its group")
        loop.let_go.set()
        wait_until(lambda: crashed or "offsets not committed yet" in caplog.text, timeout_s=30,
                   what="the refused commit")
        assert not crashed, crashed
        # It rejoins, reads the records again from the last commit (nothing was committed) and commits.
        wait_until(lambda: _committed(group, topic) == {0: 1, 1: 1}, timeout_s=60, interval_s=0.5,
                   what="both partitions committed after the rejoin")
        assert not crashed, crashed
        assert thread.is_alive(), "the loop stopped"
        assert sorted(set(loop.handled)) == [(0, 0), (1, 0)]
        assert len(loop.handled) > 2, "the records handled before the rejoin were read again"
    finally:
        loop.let_go.set()
        stop.set()
        thread.join(timeout=30)
        with kafka_admin() as admin:
            admin.delete_topics([topic])


def test_a_consumer_that_dies_leaves_its_group_within_the_configured_session_timeout(settings):
    """kafka-python 3 defaults to 45 s; a consumer killed -9 held its partitions that long, and after a
    broker restart the whole group waited for it (bench/chaos/ measured 54 s from Kafka to a toast)."""
    from prepaid.kafka import kafka_consumer

    consumer = kafka_consumer(topic=settings.KAFKA_TOPIC_WALLET_EVENTS, group_id=f"session-{uuid.uuid4().hex}",
                              max_poll_records=1, max_poll_interval_ms=60_000)
    try:
        assert consumer.config["session_timeout_ms"] == settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS == 10_000
        assert consumer.config["heartbeat_interval_ms"] * 3 <= consumer.config["session_timeout_ms"]
    finally:
        consumer.close()


def test_consumers_and_the_producer_try_a_broker_that_went_away_again_within_a_second(settings):
    """kafka-python doubles its wait between tries up to 30 s: a consumer came back up to 30 s after the
    broker did (bench/chaos/: toasts 56 s late after a 20 s Kafka outage)."""
    from prepaid.kafka import kafka_consumer, kafka_producer_config

    consumer = kafka_consumer(topic=settings.KAFKA_TOPIC_WALLET_EVENTS, group_id=f"backoff-{uuid.uuid4().hex}",
                              max_poll_records=1, max_poll_interval_ms=60_000)
    try:
        assert consumer.config["reconnect_backoff_max_ms"] == settings.KAFKA_RECONNECT_BACKOFF_MAX_MS == 1000
    finally:
        consumer.close()
    assert kafka_producer_config()["reconnect_backoff_max_ms"] == 1000
