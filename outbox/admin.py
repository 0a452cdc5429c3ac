from django.contrib import admin, messages
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from outbox import services
from outbox.models import OutboxEvent, OutboxTopic
from prepaid.admin import EventTypeFilter, ReadOnlyAdmin


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
    list_filter = (StatusFilter, EventTypeFilter)
    search_fields = ("event_id", "key")
    readonly_fields = [f.name for f in OutboxEvent._meta.fields]
    actions = ["retry"]

    @admin.action(description=_("Retry: give parked (failed) rows to the relay again"))
    def retry(self, request, queryset):
        if not request.user.has_perm("outbox.change_outboxevent"):
            self.message_user(request, gettext("Retrying needs the permission to change outbox events."),
                              messages.ERROR)
            return
        retried = services.outbox_retry_failed(ids=list(queryset.values_list("id", flat=True)[:1000]),
                                               by=request.user)
        self.message_user(request, ngettext(
            "Retried %(count)d parked row; the others were not parked.",
            "Retried %(count)d parked rows; the others were not parked.", retried) % {"count": retried}, messages.INFO)

    @admin.display(description=_("status"))
    def status(self, obj):
        return obj.status


@admin.register(OutboxTopic)
class OutboxTopicAdmin(ReadOnlyAdmin):
    """The relays' view of each topic. Read-only: the partition count changes, and publishing pauses,
    only through ``manage.py kafka_partitions_add``, which keeps every user's order."""

    list_display = ("name", "partitions", "paused_until", "paused_reason", "updated_at")
    readonly_fields = [f.name for f in OutboxTopic._meta.fields]
