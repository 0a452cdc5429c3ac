"""Liveness and readiness probes.

``/health/live`` answers as long as the process serves requests.
``/health/ready`` checks each dependency (PostgreSQL, Redis, Kafka) with a short
timeout and answers 503 naming the ones that failed.
"""

import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from prepaid.kafka import kafka_ping

logger = logging.getLogger(__name__)


def check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def check_redis() -> None:
    timeout_s = settings.HEALTH_CHECK_TIMEOUT_S
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    try:
        client.ping()
    finally:
        client.close()


def check_kafka() -> None:
    kafka_ping(timeout_ms=settings.HEALTH_CHECK_TIMEOUT_S * 1000)


CHECKS = {"database": check_database, "redis": check_redis, "kafka": check_kafka}


@require_GET
def live(request):
    return JsonResponse({"status": "ok"})


@require_GET
def ready(request):
    results: dict[str, str] = {}
    failed: list[str] = []
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:  # any failure of a dependency means "not ready"
            logger.warning("readiness: %s failed: %r", name, exc)
            results[name] = f"error: {type(exc).__name__}: {exc}"
            failed.append(name)
        else:
            results[name] = "ok"
    if failed:
        return JsonResponse(
            {"status": "unavailable", "failed": failed, "checks": results,
             "message": f"not ready: {', '.join(failed)} unreachable"},
            status=503,
        )
    return JsonResponse({"status": "ok", "checks": results})
