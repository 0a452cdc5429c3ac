"""Reads of notifications. Every list is bounded."""

from django.db.models import QuerySet

from notifications.models import Notification


def notification_list(*, user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=user_id).order_by("-created_at", "-id")
