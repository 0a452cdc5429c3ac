from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    verbose_name = _("Audit store")
    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from audit import checks  # noqa: F401 (registers the system checks)
