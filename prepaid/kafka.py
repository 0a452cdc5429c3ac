"""Every Kafka client of the platform is built here, with its options spelled out
(timeouts, acks, idempotence) rather than left to library defaults.

- ``kafka_producer()``: the process's one producer (the outbox relay, DLT parking
  and replay): idempotent, acks=all, every wait bounded; re-created after a fork
  (a Celery prefork child must not share its parent's sockets).
- ``kafka_consumer()``: a consumer in a group, offsets committed by the caller.
- ``kafka_admin()``: topics, partitions, groups and health checks.
"""

import contextlib
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Iterator

from django.conf import settings
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import OffsetSpec

logger = logging.getLogger(__name__)

_producer_lock = threading.Lock()
_producer: KafkaProducer | None = None
_producer_pid: int | None = None


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


def kafka_topic_partition_count(topic: str) -> int:
    """How many partitions ``topic`` has, by Kafka's metadata (``LookupError`` if it has none)."""
    with kafka_admin() as admin:
        (described,) = admin.describe_topics([topic])
    if not described.get("partitions"):
        raise LookupError(f"Kafka knows no partitions of {topic} ({described.get('error_code')})")
    return len(described["partitions"])


def kafka_partitions_create(topic: str, total: int) -> None:
    """Give ``topic`` ``total`` partitions in all (Kafka only adds), and wait until its metadata shows them."""
    with kafka_admin() as admin:
        admin.create_partitions({topic: total}, timeout_ms=settings.KAFKA_REQUEST_TIMEOUT_MS)
    deadline = time.monotonic() + settings.KAFKA_REQUEST_TIMEOUT_MS / 1000
    while kafka_topic_partition_count(topic) < total:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{topic}: Kafka does not show {total} partitions yet")
        time.sleep(0.2)


@dataclasses.dataclass(frozen=True)
class TopicGroup:
    """A consumer group reading a topic, as Kafka describes it."""

    group_id: str
    state: str  # Kafka's: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead
    lag: int  # the topic's records the group has not committed (from the earliest where it has committed none)
    assigned: frozenset[int]  # the topic's partitions its members hold

    @property
    def running(self) -> bool:
        return self.state not in ("Empty", "Dead")


def kafka_topic_groups(topic: str) -> list[TopicGroup]:
    """Every consumer group that reads ``topic``: members subscribed to it, or offsets committed on it."""
    with kafka_admin() as admin:
        (described,) = admin.describe_topics([topic])
        partitions = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
        ends = admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
        starts = admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in partitions})
        group_ids = [g["group_id"] for g in admin.list_groups() if g.get("protocol_type") == "consumer"]
        if not group_ids:
            return []
        descriptions = admin.describe_groups(group_ids)
        committed = admin.list_group_offsets({group_id: partitions for group_id in group_ids})
    groups = []
    for group_id in sorted(group_ids):
        offsets = {tp: meta.offset for tp, meta in committed.get(group_id, {}).items()
                   if tp.topic == topic and meta.offset >= 0}
        description = descriptions.get(group_id, {})
        assigned: set[int] = set()
        subscribed = False
        for member in description.get("members", []):
            subscribed |= topic in ((member.get("member_metadata") or {}).get("topics") or [])
            for part in (member.get("member_assignment") or {}).get("assigned_partitions", []):
                if part["topic"] == topic:
                    assigned.update(part["partitions"])
        if not offsets and not subscribed:
            continue
        lag = sum(max(ends[tp].offset - offsets.get(tp, starts[tp].offset), 0) for tp in partitions)
        groups.append(TopicGroup(group_id=group_id, state=description.get("group_state", "Dead"), lag=lag,
                                 assigned=frozenset(assigned)))
    return groups


def kafka_ping(*, timeout_ms: int) -> None:
    """Raise unless a broker answers a metadata request within the timeout."""
    with kafka_admin(timeout_ms=timeout_ms) as admin:
        admin.describe_cluster()


_lag_admin: KafkaAdminClient | None = None
_lag_lock = threading.Lock()


def kafka_group_lag(*, topic: str, group_id: str) -> dict[int, int]:
    """Per partition of ``topic``: records the group has not committed yet (the end offset minus the
    committed one; from the earliest record when the group has committed nothing). One admin
    client per process, kept between calls (a scrape every few seconds)."""
    global _lag_admin
    with _lag_lock:
        try:
            if _lag_admin is None:
                _lag_admin = KafkaAdminClient(
                    bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS, client_id="prepaid-lag",
                    request_timeout_ms=settings.KAFKA_REQUEST_TIMEOUT_MS,
                    bootstrap_timeout_ms=settings.KAFKA_REQUEST_TIMEOUT_MS)
            (described,) = _lag_admin.describe_topics([topic])
            partitions = [TopicPartition(topic, p["partition_index"]) for p in described["partitions"]]
            ends = _lag_admin.list_partition_offsets({tp: OffsetSpec.LATEST for tp in partitions})
            starts = _lag_admin.list_partition_offsets({tp: OffsetSpec.EARLIEST for tp in partitions})
            committed = _lag_admin.list_group_offsets({group_id: partitions})[group_id]
        except Exception:
            if _lag_admin is not None:
                _lag_admin.close()
            _lag_admin = None
            raise
    lag = {}
    for tp in partitions:
        done = committed[tp].offset if tp in committed and committed[tp].offset >= 0 else starts[tp].offset
        lag[tp.partition] = max(ends[tp].offset - done, 0)
    return lag


# --- Producer ------------------------------------------------------------------------


def kafka_producer_config() -> dict:
    return {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "client_id": f"prepaid-producer-{os.getpid()}",
        "acks": "all",
        "enable_idempotence": True,
        # With idempotence, up to 5 in flight keeps per-partition order across retries.
        "max_in_flight_requests_per_connection": 5,
        "retries": settings.KAFKA_PRODUCER_RETRIES,
        "linger_ms": settings.KAFKA_PRODUCER_LINGER_MS,
        "batch_size": settings.KAFKA_PRODUCER_BATCH_SIZE_BYTES,
        "max_request_size": settings.KAFKA_PRODUCER_MAX_REQUEST_SIZE_BYTES,
        "request_timeout_ms": settings.KAFKA_REQUEST_TIMEOUT_MS,
        "delivery_timeout_ms": settings.KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS,
        "max_block_ms": settings.KAFKA_PRODUCER_MAX_BLOCK_MS,
        "bootstrap_timeout_ms": settings.KAFKA_PRODUCER_MAX_BLOCK_MS,
        "reconnect_backoff_max_ms": settings.KAFKA_RECONNECT_BACKOFF_MAX_MS,
        "allow_auto_create_topics": False,
    }


def kafka_producer() -> KafkaProducer:
    """The process's producer, created on first use (and again in a forked child)."""
    global _producer, _producer_pid
    with _producer_lock:
        if _producer is None or _producer_pid != os.getpid():
            _producer = KafkaProducer(**kafka_producer_config())
            _producer_pid = os.getpid()
        return _producer


def kafka_producer_reset() -> None:
    """Drop the producer (after errors that may have left it unusable); the next use makes a new one."""
    global _producer
    with _producer_lock:
        if _producer is not None and _producer_pid == os.getpid():
            # Closing a broken producer may fail; it is dropped either way.
            with contextlib.suppress(Exception):
                _producer.close(timeout=1)
        _producer = None


def kafka_headers_encode(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(name, str(value).encode()) for name, value in headers.items()]


# --- Consumer ------------------------------------------------------------------------


def kafka_consumer(*, topic: str, group_id: str, max_poll_records: int, max_poll_interval_ms: int,
                   fetch_min_bytes: int = 1, fetch_max_wait_ms: int = 500) -> KafkaConsumer:
    """A group member reading ``topic`` from the group's committed offsets (the start if none).

    Auto-commit is off: the caller commits what it has handled. ``fetch_min_bytes`` and
    ``fetch_max_wait_ms``: how much a fetch waits to gather (Kafka's defaults: answer with the
    first record); a consumer that can wait trades that latency for far fewer fetches.
    """
    return KafkaConsumer(
        topic,
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        group_id=group_id,
        client_id=f"{group_id}-{os.getpid()}-{threading.get_ident()}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=max_poll_records,
        max_poll_interval_ms=max_poll_interval_ms,
        session_timeout_ms=settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=min(3000, settings.KAFKA_CONSUMER_SESSION_TIMEOUT_MS // 3),
        reconnect_backoff_max_ms=settings.KAFKA_RECONNECT_BACKOFF_MAX_MS,
        request_timeout_ms=max(settings.KAFKA_REQUEST_TIMEOUT_MS, 30_000),
        fetch_min_bytes=fetch_min_bytes,
        fetch_max_wait_ms=fetch_max_wait_ms,
        metadata_max_age_ms=settings.KAFKA_CONSUMER_METADATA_MAX_AGE_MS,
    )
