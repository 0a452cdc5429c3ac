from django.contrib import admin

from audit.models import AuditEvent, ChainHead, Seal
from prepaid.admin import EventTypeFilter, ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Every wallet event as the audit store keeps it (append-only, hash-chained per user)."""

    list_display = ("event_id", "user_id", "seq", "event_type", "occurred_at", "received_at", "hash")
    list_filter = (EventTypeFilter,)
    search_fields = ("event_id", "user_id")
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(ChainHead)
class ChainHeadAdmin(ReadOnlyAdmin):
    list_display = ("user_id", "seq", "hash", "updated_at")
    search_fields = ("user_id",)


@admin.register(Seal)
class SealAdmin(ReadOnlyAdmin):
    list_display = ("sealed_at", "heads_hash", "seal_hash")
    readonly_fields = [f.name for f in Seal._meta.fields]
