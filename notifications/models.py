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

    consumer = models.CharField(max_length=100, verbose_name=_("consumer"))
    event_id = models.UUIDField(verbose_name=_("event id"))
    processed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("processed at"))

    class Meta:
        verbose_name = _("processed event")
        verbose_name_plural = _("processed events")
        constraints = [models.UniqueConstraint(fields=["consumer", "event_id"], name="processed_event_unique")]
        indexes = [models.Index(fields=["processed_at"], name="processed_event_time_idx")]  # the purge's

    def __str__(self) -> str:
        return f"{self.consumer}: {self.event_id}"


class NotificationType(models.TextChoices):
    """How the page shows a notification (the design note's toast types): money in, or anything else."""

    SUCCESS = "success"
    INFO = "info"


class Notification(models.Model):
    """What a user is told about one wallet event (``event_id``: the event's id, see prepaid.events)."""

    # Indexed by notification_user_created_idx (user, time, id) only (see wallets.models.Operation.user).
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications",
                             db_index=False,
                             verbose_name=_("user"))
    event_id = models.UUIDField(unique=True, verbose_name=_("event id"))
    event_type = models.CharField(max_length=64, verbose_name=_("event type"))
    title = models.CharField(max_length=100, verbose_name=_("title"))
    message = models.CharField(max_length=500, verbose_name=_("message"))
    type = models.CharField(max_length=16, choices=NotificationType.choices, verbose_name=_("type"))
    # The user's balance after the operation, for the page to show.
    balance = models.BigIntegerField(null=True, blank=True, verbose_name=_("balance"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    # When the user marked it read (API or page); null while unread.
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("read at"))
    # Position of its stored SSE event in the user's stream (the channel's counter: 1, 2, ...;
    # on the wire the SSE id is "<channel>:<stream_seq>"), and when it was pushed to live clients.
    stream_seq = models.BigIntegerField(null=True, blank=True, verbose_name=_("stream seq"))
    pushed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("pushed at"))

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="notification_user_created_idx"),
            models.Index(fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_unread_idx"),
            models.Index(fields=["created_at"], name="notification_created_idx"),  # the purge's
        ]

    def __str__(self) -> str:
        return f"{self.title}: {self.message}"


class DeadLetter(models.Model):
    """A record parked on the DLT topic, as read back from it (for operators: inspect, replay)."""

    dlt_topic = models.CharField(max_length=249, verbose_name=_("dlt topic"))
    dlt_partition = models.IntegerField(verbose_name=_("dlt partition"))
    dlt_offset = models.BigIntegerField(verbose_name=_("dlt offset"))
    original_topic = models.CharField(max_length=249, blank=True, default="", verbose_name=_("original topic"))
    original_partition = models.IntegerField(null=True, blank=True, verbose_name=_("original partition"))
    original_offset = models.BigIntegerField(null=True, blank=True, verbose_name=_("original offset"))
    key = models.TextField(blank=True, default="", verbose_name=_("key"))
    value = models.TextField(blank=True, default="", verbose_name=_("value"))
    headers = models.JSONField(default=dict, verbose_name=_("headers"))
    exception_type = models.CharField(max_length=255, blank=True, default="", verbose_name=_("exception type"))
    exception_message = models.TextField(blank=True, default="", verbose_name=_("exception message"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("failed at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    replayed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("replayed at"))
    replay_count = models.PositiveIntegerField(default=0, verbose_name=_("replay count"))
    # An operator decided it needs no replay (e.g. a poison record), and said why.
    discarded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("discarded at"))
    discarded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+", verbose_name=_("discarded by"))
    discard_reason = models.TextField(blank=True, default="", verbose_name=_("discard reason"))

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-id"]
        indexes = [models.Index(fields=["created_at"], name="dead_letter_created_idx")]  # the staff list's
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


# Sent on every channel the user has on, whichever types they chose: the notices before and at expiry.
ALWAYS_SENT = frozenset({EventType.BALANCE_EXPIRY_NOTICE, EventType.BALANCE_EXPIRED})


def _all_event_types() -> list[str]:
    return [t.value for t in EventType]


class NotificationPreference(models.Model):
    """Which channels beyond the browser tell a user about which events (the browser always does)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference", verbose_name=_("user"))
    email_enabled = models.BooleanField(default=False, verbose_name=_("email enabled"))  # to the account's address
    email_event_types = models.JSONField(default=_all_event_types, verbose_name=_("email event types"))
    slack_enabled = models.BooleanField(default=False, verbose_name=_("slack enabled"))
    # a secret: never logged, shown masked
    slack_webhook_url = models.TextField(blank=True, default="", verbose_name=_("slack webhook url"))
    slack_event_types = models.JSONField(default=_all_event_types, verbose_name=_("slack event types"))
    # Set when Slack refused the webhook for good (channel_not_found, invalid_token, ...): switched off.
    slack_disabled_reason = models.CharField(max_length=200, blank=True, default="",
                                             verbose_name=_("slack disabled reason"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"

    def wants(self, channel: str, event_type: str) -> bool:
        """Whether the user has ``channel`` (a name of the registry, notifications.channels) on for this type. The
        notices the law asks for (expiry: docs/compliance.md) go on every channel the user has on."""
        return getattr(self, f"{channel}_enabled") and (event_type in ALWAYS_SENT
                                                        or event_type in getattr(self, f"{channel}_event_types"))
