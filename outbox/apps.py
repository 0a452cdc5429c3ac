from django.apps import AppConfig


class OutboxConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "outbox"

    def ready(self):
        from outbox.metrics import OutboxCollector
        from prepaid.metrics import collector_register

        collector_register(OutboxCollector())
