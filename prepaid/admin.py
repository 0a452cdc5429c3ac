"""Admin helpers shared by the apps."""

import json
from functools import cached_property

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

admin.site.index_template = "admin/prepaid_index.html"  # with a link to the operations page


class EstimatedCountPaginator(Paginator):
    """A changelist's count without counting a big table: exact up to ``ADMIN_EXACT_COUNT_MAX`` rows (a count
    that stops there), above it the planner's estimate of the rows the page's query selects. Pages past an
    estimate are empty, not an error."""

    @cached_property
    def count(self):
        cap = settings.ADMIN_EXACT_COUNT_MAX
        try:
            counted = self.object_list.order_by().values("pk")[:cap + 1].count()  # (no annotation computed)
        except (AttributeError, TypeError):  # not a queryset
            return super().count
        if counted <= cap:
            return counted
        try:
            estimate = int(json.loads(self.object_list.explain(format="json"))[0]["Plan"]["Plan Rows"])
        except ValueError:
            estimate = 0
        return max(estimate, counted)


def _search_field(model, path: str):
    """The model field at the end of ``path`` (a relation's target field for a foreign key)."""
    field = None
    for part in path.split("__"):
        field = model._meta.get_field(part)
        if field.is_relation and field.related_model is not None:
            model = field.related_model
    return field.target_field if field.is_relation else field


def _search_condition(model, path: str, value) -> Q:
    """``path`` = ``value`` as a condition on the model's own columns: a key across a relation (a user's
    username) is looked up first, so the planner sees the foreign key's value (and its statistics: a user
    with a million rows is read through the index in order, not joined and sorted)."""
    relation, _sep, rest = path.partition("__")
    field = model._meta.get_field(relation)
    if rest and field.is_relation:
        keys = list(field.related_model._default_manager.filter(**{rest: value}).values_list("pk", flat=True)[:100])
        return Q(**{f"{relation}__in": keys})
    return Q(**{path: value})


class ReadOnlyAdmin(admin.ModelAdmin):
    """Operators may look, never change: the records are written by services only.

    Sized for tables of tens of millions of rows: no count of the whole table (``show_full_result_count``
    off, ``EstimatedCountPaginator``), and search by exact keys only (``search_fields``: ids, order ids,
    payment keys, usernames, each read through its index), never a ``LIKE`` scan: the first key in
    ``search_fields`` that the term is a value of (not a word for an id) and that matches a row answers (an
    ``OR`` of keys on different columns or tables would read the whole table).
    """

    paginator = EstimatedCountPaginator
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        for name in self.get_search_fields(request):
            field = _search_field(self.model, name)
            try:
                value = field.to_python(term)
            except ValidationError:
                continue
            if value in (None, "") or (isinstance(value, int) and not -2**63 <= value < 2**63):
                continue
            found = queryset.filter(_search_condition(self.model, name, value))
            if found.exists():  # one index probe
                return found, False
        return queryset.none(), False


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


class EventTypeFilter(admin.SimpleListFilter):
    """Filter by the event's type, from the contract's list (prepaid.events.EventType): Django's own filter on a
    field without choices reads every distinct value of the table to offer them."""

    title = gettext_lazy("event type")
    parameter_name = "event_type"

    def lookups(self, request, model_admin):
        from prepaid.events import EventType

        return [(event_type.value, event_type.value) for event_type in EventType]

    def queryset(self, request, queryset):
        return queryset.filter(event_type=self.value()) if self.value() else queryset
