"""Operator actions: who changed what, from the admin or the operations API, and when."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class OperatorAction(models.Model):
    """One action an operator took (replay or discard a dead letter, retry a parked outbox row,
    look a payment up at the gateway, ...). Written by the service that acts, never edited."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+",
                             verbose_name=_("user"))
    username = models.CharField(max_length=150, verbose_name=_("username"))  # kept if the user is deleted
    action = models.CharField(max_length=64, verbose_name=_("action"))
    # e.g. "dead_letter:12", "outbox_event:3", "payment:order-…"
    target = models.CharField(max_length=200, verbose_name=_("target"))
    detail = models.TextField(blank=True, default="", verbose_name=_("detail"))
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("operator action")
        verbose_name_plural = _("operator actions")
        ordering = ["-id"]
        indexes = [models.Index(fields=["target"], name="operator_action_target_idx")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.username} {self.action} {self.target}"


class LanguagePreference(models.Model):
    """The language a user chose (the page's switcher): their notifications, emails and Slack messages
    are written in it. Without one, Korean (``LANGUAGE_CODE``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True,
                                related_name="language_preference", verbose_name=_("user"))
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, verbose_name=_("language"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("language preference")
        verbose_name_plural = _("language preferences")

    def __str__(self) -> str:
        return f"{self.user_id}: {self.language}"
