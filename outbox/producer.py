"""The process's Kafka producer: idempotent, acks=all, every wait bounded.

One producer per process, created on first use and re-created after a fork
(a Celery prefork child must not share its parent's sockets).
"""

import contextlib
import os
import threading

from django.conf import settings
from kafka import KafkaProducer

_lock = threading.Lock()
_producer: KafkaProducer | None = None
_producer_pid: int | None = None


def producer_config() -> dict:
    return {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "client_id": f"prepaid-outbox-{os.getpid()}",
        "acks": "all",
        "enable_idempotence": True,
        # With idempotence, up to 5 in flight keeps per-partition order across retries.
        "max_in_flight_requests_per_connection": 5,
        "retries": settings.KAFKA_PRODUCER_RETRIES,
        "linger_ms": settings.KAFKA_PRODUCER_LINGER_MS,
        "batch_size": settings.KAFKA_PRODUCER_BATCH_SIZE,
        "max_request_size": settings.KAFKA_PRODUCER_MAX_REQUEST_SIZE,
        "request_timeout_ms": settings.KAFKA_REQUEST_TIMEOUT_MS,
        "delivery_timeout_ms": settings.KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS,
        "max_block_ms": settings.KAFKA_PRODUCER_MAX_BLOCK_MS,
        "bootstrap_timeout_ms": settings.KAFKA_PRODUCER_MAX_BLOCK_MS,
        "allow_auto_create_topics": False,
    }


def kafka_producer() -> KafkaProducer:
    global _producer, _producer_pid
    with _lock:
        if _producer is None or _producer_pid != os.getpid():
            _producer = KafkaProducer(**producer_config())
            _producer_pid = os.getpid()
        return _producer


def kafka_producer_reset() -> None:
    """Drop the producer (after errors that may have left it unusable); the next use makes a new one."""
    global _producer
    with _lock:
        if _producer is not None and _producer_pid == os.getpid():
            # Closing a broken producer may fail; it is dropped either way.
            with contextlib.suppress(Exception):
                _producer.close(timeout=1)
        _producer = None


def encode_headers(headers: dict[str, str]) -> list[tuple[str, bytes]]:
    return [(name, str(value).encode()) for name, value in headers.items()]
