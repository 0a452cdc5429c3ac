"""Kafka plumbing shared by the outbox relay, the consumer and health checks.

Every client is built here, with its options spelled out (timeouts, acks,
idempotence) rather than left to library defaults.
"""

import contextlib
import logging
from collections.abc import Iterator

from django.conf import settings
from kafka import KafkaAdminClient

logger = logging.getLogger(__name__)


def kafka_topic_specs() -> dict[str, dict]:
    """The topics this project owns, with their partition counts."""
    return {
        settings.KAFKA_TOPIC_WALLET_EVENTS: {
            "num_partitions": settings.KAFKA_WALLET_EVENTS_PARTITIONS,
            "replication_factor": settings.KAFKA_REPLICATION_FACTOR,
        },
        settings.KAFKA_TOPIC_WALLET_EVENTS_DLT: {
            "num_partitions": settings.KAFKA_DLT_PARTITIONS,
            "replication_factor": settings.KAFKA_REPLICATION_FACTOR,
        },
    }


@contextlib.contextmanager
def kafka_admin(*, timeout_ms: int | None = None) -> Iterator[KafkaAdminClient]:
    timeout_ms = timeout_ms or settings.KAFKA_REQUEST_TIMEOUT_MS
    admin = KafkaAdminClient(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        client_id="prepaid-admin",
        request_timeout_ms=timeout_ms,
        bootstrap_timeout_ms=timeout_ms,
    )
    try:
        yield admin
    finally:
        admin.close()


def kafka_topics_ensure() -> list[str]:
    """Create the project's topics that do not exist yet; return the ones created.

    Idempotent: an existing topic is left as it is (its partition count is not
    changed, since that would move keys between partitions).
    """
    specs = kafka_topic_specs()
    with kafka_admin() as admin:
        existing = set(admin.list_topics())
        missing = {name: spec for name, spec in specs.items() if name not in existing}
        if missing:
            admin.create_topics(missing, wait_for_metadata=True)
    for name in missing:
        logger.info("kafka topic created: %s %s", name, missing[name])
    return sorted(missing)


def kafka_ping(*, timeout_ms: int) -> None:
    """Raise unless a broker answers a metadata request within the timeout."""
    with kafka_admin(timeout_ms=timeout_ms) as admin:
        admin.describe_cluster()


def kafka_group_skip_to_end(*, topic: str, group_id: str, timeout_s: float = 60) -> None:
    """Commit ``group_id``'s offsets at the current end of ``topic`` (its consumers skip what is there).

    Only works while the group has no live member; a member that died stays in
    the group until its session times out, so this retries until ``timeout_s``.
    """
    import time

    from kafka import KafkaConsumer
    from kafka.errors import CommitFailedError
    from kafka.structs import OffsetAndMetadata, TopicPartition

    with kafka_admin() as admin:
        (described,) = admin.describe_topics([topic])
    partitions = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
    consumer = KafkaConsumer(bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, group_id=group_id,
                             enable_auto_commit=False)
    try:
        consumer.assign(partitions)
        consumer.seek_to_end()
        offsets = {tp: OffsetAndMetadata(consumer.position(tp), "", -1) for tp in partitions}
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                consumer.commit(offsets)
                return
            except CommitFailedError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
    finally:
        consumer.close()
