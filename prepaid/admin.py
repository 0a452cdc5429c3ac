"""Admin helpers shared by the apps."""

from django.contrib import admin
from django.utils.translation import gettext as _

admin.site.index_template = "admin/prepaid_index.html"  # with a link to the operations page


class ReadOnlyAdmin(admin.ModelAdmin):
    """Operators may look, never change: the records are written by services only."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    """A read-only admin's rows of a related record: shown, never added, changed or deleted."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


def operations_page(request):
    """/admin/operations/: the headline figures of the platform, for staff (prepaid.metrics)."""
    from django.template.response import TemplateResponse

    from prepaid.metrics import headline_figures

    return TemplateResponse(request, "admin/operations.html", {
        **admin.site.each_context(request), "title": _("Operations"), "figures": headline_figures()})
