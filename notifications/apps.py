from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"
    name = "notifications"

    def ready(self):
        from notifications.metrics import ConsumerLagCollector, DeadLetterCollector
        from prepaid.metrics import collector_register

        collector_register(ConsumerLagCollector())
        collector_register(DeadLetterCollector())
