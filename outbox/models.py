"""The transactional outbox: events written in the same transaction as the change they describe."""

import uuid

from django.db import models
from django.db.models import F, Func, Q
from django.utils.translation import gettext_lazy as _

from prepaid.events import SCHEMA_VERSION, event_headers


class OutboxEvent(models.Model):
    """One event to publish. The relay sends it as a Kafka record (see prepaid.events):
    key ``key``; value ``payload`` with ``eventId`` added from ``event_id``; headers
    made from ``event_id`` and ``event_type``. The event id is stored here only."""

    # Creation order, used by the relay; claims go by state (published_at IS NULL), never "id > last".
    id = models.BigAutoField(primary_key=True, verbose_name=_("id"))
    event_id = models.UUIDField(unique=True, default=uuid.uuid4, editable=False, verbose_name=_("event id"))
    event_type = models.CharField(max_length=64, verbose_name=_("event type"))
    topic = models.CharField(max_length=249, verbose_name=_("topic"))
    key = models.CharField(max_length=255, verbose_name=_("key"))
    # Kafka's partitioner hash of the key (outbox/sql/outbox_key_hash.sql), stored as the row is written,
    # whoever writes it: its partition is key_hash % the topic's partition count (OutboxTopic), which
    # decides the relay that owns it. The hash, not the partition, so that it holds when partitions are added.
    key_hash = models.GeneratedField(
        expression=Func(F("key"), function="outbox_key_hash", output_field=models.IntegerField()),
        output_field=models.IntegerField(), db_persist=True,
     verbose_name=_("key hash"))
    # The event's fields but its id.
    payload = models.JSONField(verbose_name=_("payload"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    published_at = models.DateTimeField(null=True, blank=True, verbose_name=_("published at"))
    # Set when the relay gave up on the row (e.g. too large for the broker); it stays for operators.
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("failed at"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, default="", verbose_name=_("last error"))
    # Earliest time the relay may try again after a failure (back-off).
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))

    class Meta:
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
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
    def event(self) -> dict:
        """The event as it travels in the Kafka record's value."""
        return {"eventId": str(self.event_id), **self.payload}

    @property
    def headers(self) -> dict[str, str]:
        """The Kafka record's headers, as the relay derives them."""
        return event_headers(event_id=str(self.event_id), event_type=self.event_type,
                             schema_version=self.payload.get("schemaVersion", SCHEMA_VERSION))

    @property
    def status(self) -> str:
        if self.published_at:
            return "published"
        if self.failed_at:
            return "failed"
        return "pending"


class OutboxTopic(models.Model):
    """A topic as the relays publish to it: its partition count, which every relay reads in each batch
    (so that all agree on which relay owns which partition, and send each row to the partition Kafka's
    partitioner names for that count), and whether publishing is paused (``kafka_partitions_add``).

    Recorded from Kafka by the first relay run; the count is changed only by ``kafka_partitions_add``,
    while publishing is paused. A pause is a lease (``paused_until``), renewed by the command while it
    works: if it dies, publishing resumes by itself, which is safe at every step of it.
    """

    name = models.CharField(max_length=249, primary_key=True, verbose_name=_("name"))
    partitions = models.PositiveIntegerField(verbose_name=_("partitions"))
    paused_until = models.DateTimeField(null=True, blank=True, verbose_name=_("paused until"))
    paused_reason = models.CharField(max_length=200, blank=True, default="", verbose_name=_("paused reason"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("outbox topic")
        verbose_name_plural = _("outbox topics")

    def __str__(self) -> str:
        return f"{self.name} ({self.partitions} partitions)"
