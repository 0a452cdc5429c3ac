from django.urls import path

from audit import apis

urlpatterns = [
    path("ops/audit-events", apis.AuditEventListAPI.as_view(), name="ops-audit-events"),
    path("ops/audit-events/export", apis.AuditEventExportAPI.as_view(), name="ops-audit-events-export"),
]
