from django.apps import AppConfig


class WalletsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "wallets"

    def ready(self):
        from prepaid.metrics import collector_register
        from wallets.metrics import PaymentCollector

        collector_register(PaymentCollector())
