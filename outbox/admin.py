from django.contrib import admin

from outbox.models import OutboxEvent
from prepaid.admin import ReadOnlyAdmin


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "pending"), ("published", "published"), ("failed", "failed")]

    def queryset(self, request, queryset):
        if self.value() == "pending":
            return queryset.filter(published_at__isnull=True, failed_at__isnull=True)
        if self.value() == "published":
            return queryset.filter(published_at__isnull=False)
        if self.value() == "failed":
            return queryset.filter(failed_at__isnull=False)
        return queryset


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "event_id", "event_type", "key", "status", "attempts", "created_at", "published_at")
    list_filter = (StatusFilter, "event_type")
    search_fields = ("=event_id", "=key", "payload__orderId", "payload__paymentKey")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    show_full_result_count = False

    @admin.display(description="status")
    def status(self, obj):
        return obj.status
