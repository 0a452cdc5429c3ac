"""Notifications of wallet events, the consumer's dedup record, and parked (DLT) records."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from prepaid.events import EventType


class ProcessedEvent(models.Model):
    """One row per event a consumer has handled, written in the same transaction as its effects.

    The unique key makes a redelivered event (after a crash, a rebalance or a
    DLT replay) a no-op.
    """

    consumer = models.CharField(max_length=100)
    event_id = models.UUIDField()
    processed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("processed event")
        verbose_name_plural = _("processed events")
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="processed_event_unique")]

    def __str__(self) -> str:
        return f"{self.consumer}: {self.event_id}"


class NotificationType(models.TextChoices):
    """How the page shows a notification (the design note's toast types): money in, or anything else."""

    SUCCESS = "success"
    INFO = "info"


class Notification(models.Model):
    """What a user is told about one wallet event (``event_id``: the event's id, see prepaid.events)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    event_id = models.UUIDField(unique=True)
    event_type = models.CharField(max_length=64)
    title = models.CharField(max_length=100)
    message = models.CharField(max_length=500)
    type = models.CharField(max_length=16, choices=NotificationType.choices)
    # The user's balance after the operation, for the page to show.
    balance = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # When the user marked it read (API or page); null while unread.
    read_at = models.DateTimeField(null=True, blank=True)
    # Position of its stored SSE event in the user's stream (the channel's counter: 1, 2, ...;
    # on the wire the SSE id is "<channel>:<stream_seq>"), and when it was pushed to live clients.
    stream_seq = models.BigIntegerField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="notification_user_created_idx"),
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_unread_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.title}: {self.message}"


class DeadLetter(models.Model):
    """A record parked on the DLT topic, as read back from it (for operators: inspect, replay)."""

    dlt_topic = models.CharField(max_length=249)
    dlt_partition = models.IntegerField()
    dlt_offset = models.BigIntegerField()
    original_topic = models.CharField(max_length=249, blank=True, default="")
    original_partition = models.IntegerField(null=True, blank=True)
    original_offset = models.BigIntegerField(null=True, blank=True)
    key = models.TextField(blank=True, default="")
    value = models.TextField(blank=True, default="")
    headers = models.JSONField(default=dict)
    exception_type = models.CharField(max_length=255, blank=True, default="")
    exception_message = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField(null=True, blank=True)
    replay_count = models.PositiveIntegerField(default=0)
    # An operator decided it needs no replay (e.g. a poison record), and said why.
    discarded_at = models.DateTimeField(null=True, blank=True)
    discarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    discard_reason = models.TextField(blank=True, default="")

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["dlt_topic", "dlt_partition", "dlt_offset"], name="dead_letter_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.original_topic}[{self.original_partition}]@{self.original_offset}: {self.exception_type}"

    @property
    def status(self) -> str:
        """open (waiting for an operator), replayed or discarded."""
        if self.discarded_at:
            return "discarded"
        return "replayed" if self.replayed_at else "open"


def _all_event_types() -> list[str]:
    return [t.value for t in EventType]


class NotificationPreference(models.Model):
    """Which channels beyond the browser tell a user about which events (the browser always does)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    email_enabled = models.BooleanField(default=False)  # to the account's address
    email_event_types = models.JSONField(default=_all_event_types)
    slack_enabled = models.BooleanField(default=False)
    slack_webhook_url = models.TextField(blank=True, default="")  # a secret: never logged, shown masked
    slack_event_types = models.JSONField(default=_all_event_types)
    # Set when Slack refused the webhook for good (channel_not_found, invalid_token, ...): switched off.
    slack_disabled_reason = models.CharField(max_length=200, blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"

    def wants(self, channel: str, event_type: str) -> bool:
        """Whether the user has ``channel`` (a name of the registry, notifications.channels) on for this type."""
        return getattr(self, f"{channel}_enabled") and event_type in getattr(self, f"{channel}_event_types")
