"""Reads of notifications. Every list is bounded."""

import dataclasses

from django.conf import settings
from django.db.models import QuerySet

from notifications import sse
from notifications.models import DeadLetter, Notification, NotificationPreference


def notification_list(*, user_id: int) -> QuerySet[Notification]:
    """The user's notifications, newest first (paginate or slice it)."""
    return Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id")


def notification_unread_count(*, user_id: int) -> int:
    """The user's unread notifications, counted up to NOTIFICATIONS_UNREAD_COUNT_MAX (a badge; a count that
    stops there costs the same for a user who never reads them)."""
    return (Notification.objects.filter(user_id=user_id, read_at__isnull=True).order_by()
            [:settings.NOTIFICATIONS_UNREAD_COUNT_MAX].count())


@dataclasses.dataclass(frozen=True)
class NotificationFeed:
    """What a page needs to show a user's notifications and then follow them live."""

    notifications: list[Notification]
    unread_count: int
    # The SSE id to connect with (Last-Event-ID): nothing stored after this read is missed.
    stream_position: str


def notification_feed(*, user_id: int, limit: int) -> NotificationFeed:
    # The position is read first: an event stored between the two reads is then shown
    # twice at worst (the page drops an eventId it has shown), never missed.
    stream_position = sse.sse_stream_position(user_id=user_id)
    return NotificationFeed(
        notifications=list(notification_list(user_id=user_id)[:limit]),
        unread_count=notification_unread_count(user_id=user_id),
        stream_position=stream_position,
    )


DEAD_LETTER_STATUSES = ("open", "replayed", "discarded")


def dead_letter_list(*, status: str | None = None, exception_type: str | None = None) -> QuerySet[DeadLetter]:
    """Dead letters, filtered by status (open, replayed, discarded) and exception type."""
    dead_letters = DeadLetter.objects.all()
    if status == "open":
        dead_letters = dead_letters.filter(replayed_at=None, discarded_at=None)
    elif status == "replayed":
        dead_letters = dead_letters.filter(replayed_at__isnull=False)
    elif status == "discarded":
        dead_letters = dead_letters.filter(discarded_at__isnull=False)
    if exception_type:
        dead_letters = dead_letters.filter(exception_type=exception_type)
    return dead_letters


def dead_letter_get(*, dead_letter_id: int) -> DeadLetter | None:
    return DeadLetter.objects.filter(id=dead_letter_id).first()


def notification_preference_get(*, user_id: int) -> NotificationPreference | None:
    return NotificationPreference.objects.filter(user_id=user_id).first()
