"""Reads of the outbox."""

from django.db.models import Min
from django.utils import timezone

from outbox.models import OutboxEvent


def outbox_stats() -> dict:
    """Numbers an operator reads (``outbox_relay --stats``): backlog, age of the oldest pending row, totals."""
    pending = OutboxEvent.objects.filter(published_at__isnull=True, failed_at__isnull=True)
    oldest = pending.aggregate(oldest=Min("created_at"))["oldest"]
    return {
        "pending": pending.count(),
        "oldestPendingAgeSeconds": round((timezone.now() - oldest).total_seconds(), 3) if oldest else 0.0,
        "published": OutboxEvent.objects.filter(published_at__isnull=False).count(),
        "failed": OutboxEvent.objects.filter(failed_at__isnull=False).count(),
    }
