from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    verbose_name = _("Accounts and API tokens")
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
