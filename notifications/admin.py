from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from notifications import services
from notifications.models import DeadLetter, Notification, ProcessedEvent
from prepaid.admin import EventTypeFilter, ReadOnlyAdmin
from prepaid.errors import ApplicationError


@admin.register(DeadLetter)
class DeadLetterAdmin(ReadOnlyAdmin):
    list_display = ("id", "channel", "original_topic", "original_partition", "original_offset", "key",
                    "exception_type", "attempts", "failed_at", "status", "replay_count", "discard_reason")
    list_filter = ("exception_type", ("replayed_at", admin.EmptyFieldListFilter),
                   ("discarded_at", admin.EmptyFieldListFilter))
    search_fields = ("key", "exception_type")
    readonly_fields = [f.name for f in DeadLetter._meta.fields]
    actions = ["replay", "discard"]

    def has_change_permission(self, request, obj=None):
        # Viewing a row and running the replay action need "change"; the fields stay read-only.
        return request.user.is_active and request.user.is_staff and request.user.has_perm(
            "notifications.change_deadletter")

    @admin.display(description=_("status"))
    def status(self, dead_letter) -> str:
        return dead_letter.status

    @admin.display(description=_("channel"))
    def channel(self, dead_letter):
        """Who parked it: a channel beyond the browser (email, slack), or the in-app consumer."""
        return dead_letter.headers.get(services.DLT_CHANNEL, "in-app")

    @admin.action(description=_("Replay: publish the original record again to its topic"))
    def replay(self, request, queryset):
        replayed = 0
        for dead_letter in queryset.order_by("id"):
            try:
                services.dead_letter_replay(dead_letter=dead_letter, by=request.user)
            except Exception as exc:
                self.message_user(request, gettext("Dead letter %(id)s: replay failed: %(error)s") % {
                    "id": dead_letter.id, "error": exc}, messages.ERROR)
            else:
                replayed += 1
        if replayed:
            self.message_user(request, ngettext(
                "Replayed %(count)d record.", "Replayed %(count)d records.", replayed) % {
                "count": replayed}, messages.SUCCESS)

    @admin.action(description=_("Discard, with a reason (no replay)"))
    def discard(self, request, queryset):
        reason = request.POST.get("reason", "")
        if "confirm" not in request.POST:
            return TemplateResponse(request, "admin/notifications/deadletter/discard.html", {
                **self.admin_site.each_context(request), "title": "Discard dead letters", "dead_letters": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "opts": self.model._meta})
        discarded = 0
        for dead_letter in queryset.order_by("id"):
            try:
                services.dead_letter_discard(dead_letter=dead_letter, by=request.user, reason=reason)
            except ApplicationError as exc:
                self.message_user(request, gettext("Dead letter %(id)s: %(error)s") % {
                    "id": dead_letter.id, "error": exc.message}, messages.ERROR)
            else:
                discarded += 1
        if discarded:
            self.message_user(request, ngettext(
                "Discarded %(count)d record.", "Discarded %(count)d records.", discarded) % {
                "count": discarded}, messages.SUCCESS)
        return None


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "title", "message", "type", "created_at", "pushed_at", "read_at")
    list_filter = ("type", EventTypeFilter)
    search_fields = ("event_id", "user__username", "user__id")
    list_select_related = ("user",)


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "consumer", "processed_at")
    search_fields = ("event_id",)
