from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OutboxConfig(AppConfig):
    verbose_name = _("Outbox")
    default_auto_field = "django.db.models.BigAutoField"
    name = "outbox"

    def ready(self):
        from outbox.metrics import OutboxCollector
        from prepaid.metrics import collector_register

        collector_register(OutboxCollector())
