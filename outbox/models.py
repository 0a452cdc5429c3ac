"""The transactional outbox: events written in the same transaction as the change they describe."""

import uuid

from django.db import models
from django.db.models import Q


class OutboxEvent(models.Model):
    # Creation order, used by the relay; claims go by state (published_at IS NULL), never "id > last".
    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False)
    event_type = models.CharField(max_length=64)
    topic = models.CharField(max_length=249)
    key = models.CharField(max_length=255)
    payload = models.JSONField()
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Set when the relay gave up on the row (e.g. too large for the broker); it stays for operators.
    failed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    # Earliest time the relay may try again after a failure (back-off).
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # The relay's claim query reads only this small index, however many rows were published.
            models.Index(
                fields=["id"], condition=Q(published_at__isnull=True, failed_at__isnull=True),
                name="outbox_pending_idx",
            ),
            models.Index(fields=["published_at"], condition=Q(published_at__isnull=False),
                         name="outbox_published_at_idx"),
            models.Index(fields=["failed_at"], condition=Q(failed_at__isnull=False), name="outbox_failed_idx"),
            models.Index(fields=["key", "id"], name="outbox_key_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"

    @property
    def status(self) -> str:
        if self.published_at:
            return "published"
        if self.failed_at:
            return "failed"
        return "pending"
