"""Operator actions: who changed what, from the admin or the operations API, and when."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class OperatorAction(models.Model):
    """One action an operator took (replay or discard a dead letter, retry a parked outbox row,
    look a payment up at the gateway, ...). Written by the service that acts, never edited."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    username = models.CharField(max_length=150)  # kept if the user is deleted
    action = models.CharField(max_length=64)
    target = models.CharField(max_length=200)  # e.g. "dead_letter:12", "outbox_event:3", "payment:order-…"
    detail = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["target"], name="operator_action_target_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"
