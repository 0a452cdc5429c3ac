"""System checks of the audit store's settings (``manage.py check``, run by every command and at startup)."""

from django.conf import settings
from django.core.checks import Error, register


@register()
def retention_not_under_the_records(app_configs=None, **kwargs) -> list[Error]:
    """The audit store keeps its events at least as long as every record must be kept."""
    if settings.AUDIT_RETENTION_DAYS < settings.RECORD_RETENTION_DAYS:
        return [Error(f"AUDIT_RETENTION_DAYS ({settings.AUDIT_RETENTION_DAYS}) is shorter than RECORD_RETENTION_DAYS "
                      f"({settings.RECORD_RETENTION_DAYS}): audit events must be kept that long",
                      hint="Raise AUDIT_RETENTION_DAYS (audit_retention keeps RECORD_RETENTION_DAYS anyway).",
                      id="audit.E001")]
    return []
