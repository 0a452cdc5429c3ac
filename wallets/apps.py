from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WalletsConfig(AppConfig):
    verbose_name = _("Wallets")
    default_auto_field = "django.db.models.BigAutoField"
    name = "wallets"

    def ready(self):
        from prepaid.metrics import collector_register
        from wallets import checks  # noqa: F401 - registers the system checks
        from wallets.metrics import PaymentCollector

        collector_register(PaymentCollector())
