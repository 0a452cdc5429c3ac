"""Pagination shared by the list APIs: keyset cursors, so a page costs the same however much history lies behind it."""

import dataclasses
import re
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError as FieldValidationError
from django.db.models import Model, Q, QuerySet
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import Cursor, CursorPagination

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


@dataclasses.dataclass(frozen=True)
class UnionKeyset:
    """Rows that no one index lists in order, e.g. a user's operations and those of which they are the
    counterparty: ``arms`` are querysets of one model, each read in key order through its own index up to the
    page's size, merged; ``detail`` then reads the page's rows by primary key (annotations and all). The page
    costs its size times the arms, never the history an ``OR`` would sort."""

    model: type[Model]
    arms: tuple[QuerySet, ...]
    detail: QuerySet

    def page(self, *, where: Q, order: tuple[str, str], limit: int) -> list:
        time_field, newest_first = order[0].lstrip("-"), order[0].startswith("-")
        keys = []
        for arm in self.arms:
            keys += arm.filter(where).order_by(*order).values_list(time_field, "pk")[:limit]
        keys = sorted(keys, reverse=newest_first)[:limit]
        rows = {row.pk: row for row in self.detail.filter(pk__in=[pk for _, pk in keys])}
        return [rows[pk] for _, pk in keys]

    def first(self, limit: int) -> list:
        """The newest ``limit`` rows."""
        return self.page(where=Q(), order=("-created_at", "-pk"), limit=limit)


class NewestFirstPagination(CursorPagination):
    """Keyset pagination, newest first; ``?pageSize=`` from 1 to ``API_PAGE_SIZE_MAX``.

    The cursor holds the (time, primary key) of the row at a page's edge; the next page is the rows
    before it in that order, read from an index on (…, time) (DRF's cursor holds the time alone and
    an offset among equal times, which costs every row sharing it). A ``pageSize`` that is not such a
    number, or a ``cursor`` that is not one this API gave, is a 400 naming it (DRF would ignore the one
    and answer 404 to the other). Pages a queryset or a ``UnionKeyset``.
    """

    ordering = ("-created_at", "-pk")
    page_size_query_param = "pageSize"

    def paginate_queryset(self, queryset, request, view=None):
        self.request, self.base_url = request, request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        self.cursor = self.decode_cursor(request)
        time_field = self.ordering[0].lstrip("-")
        model = queryset.model
        reverse = bool(self.cursor and self.cursor.reverse)
        where = Q()
        if self.cursor is not None and self.cursor.position is not None:
            at, pk = self._position_read(self.cursor.position, model)
            after = "gt" if reverse else "lt"
            where = Q(**{f"{time_field}__{after}e": at}) & (
                Q(**{f"{time_field}__{after}": at}) | Q(**{f"pk__{after}": pk}))
        order = (time_field, "pk") if reverse else (f"-{time_field}", "-pk")
        if isinstance(queryset, UnionKeyset):
            rows = queryset.page(where=where, order=order, limit=self.page_size + 1)
        else:
            rows = list(queryset.filter(where).order_by(*order)[:self.page_size + 1])
        more = len(rows) > self.page_size
        rows = rows[:self.page_size]
        if reverse:
            rows.reverse()
        self.page = rows
        self.has_next = True if reverse else more
        self.has_previous = more if reverse else self.cursor is not None
        return rows

    def _position(self, row) -> str:
        return f"{getattr(row, self.ordering[0].lstrip('-')).isoformat()}|{row.pk}"

    def _position_read(self, position: str, model: type[Model]):
        invalid = self._invalid_cursor()
        at, _sep, pk = position.rpartition("|")
        try:
            at, pk = datetime.fromisoformat(at), model._meta.pk.to_python(pk)
        except (ValueError, FieldValidationError):
            raise invalid from None
        if at.tzinfo is None or pk is None:
            raise invalid
        return at, pk

    def _link(self, *, reverse: bool, row) -> str:
        position = self._position(row) if row is not None else self.cursor.position
        return self.encode_cursor(Cursor(offset=0, reverse=reverse, position=position))

    def get_next_link(self):
        if not self.has_next:
            return None
        return self._link(reverse=False, row=self.page[-1] if self.page else None)

    def get_previous_link(self):
        if not self.has_previous:
            return None
        return self._link(reverse=True, row=self.page[0] if self.page else None)

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.API_PAGE_SIZE
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= settings.API_PAGE_SIZE_MAX:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [
                    _("Must be an integer from 1 to %(max)s.") % {"max": settings.API_PAGE_SIZE_MAX}]})
        return int(raw)

    def _invalid_cursor(self) -> exceptions.ValidationError:
        return exceptions.ValidationError(
            {self.cursor_query_param: [_("Not a cursor this API gave (use the next or previous link).")]})

    def decode_cursor(self, request):
        invalid = self._invalid_cursor()
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and not _BASE64.fullmatch(encoded):
            raise invalid  # DRF's decoder skips what is not base64: "\0" would read as the first page
        try:
            return super().decode_cursor(request)
        except exceptions.NotFound:
            raise invalid from None


def page_parameters() -> list[OpenApiParameter]:
    """The query parameters of a list (OpenAPI)."""
    return [
        OpenApiParameter("pageSize", {"type": "integer", "minimum": 1, "maximum": settings.API_PAGE_SIZE_MAX},
                         description=f"Items per page (default {settings.API_PAGE_SIZE})."),
        OpenApiParameter("cursor", {"type": "string", "pattern": _BASE64.pattern},
                         description="Where a page starts: take it from a page's `next` or `previous` link."),
    ]


def page_serializer(item: type[serializers.Serializer], name: str) -> type[serializers.Serializer]:
    """The schema of a page of ``item`` (OpenAPI component ``name``), as NewestFirstPagination answers."""
    return extend_schema_serializer(component_name=name)(type(f"{name}Serializer", (serializers.Serializer,), {
        "next": serializers.URLField(allow_null=True, help_text="The next (older) page; null on the last."),
        "previous": serializers.URLField(allow_null=True, help_text="The previous (newer) page; null on the first."),
        "results": item(many=True),
    }))
