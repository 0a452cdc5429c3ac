"""Pagination shared by the list APIs."""

import re

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema_serializer
from rest_framework import exceptions, serializers
from rest_framework.pagination import CursorPagination

_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


class NewestFirstPagination(CursorPagination):
    """Cursor pagination, newest first; ``?pageSize=`` from 1 to ``API_PAGE_SIZE_MAX``.

    A ``pageSize`` that is not such a number, or a ``cursor`` that is not one this API
    gave, is a 400 naming it (DRF would ignore the one and answer 404 to the other).
    """

    ordering = ("-created_at", "-pk")
    page_size_query_param = "pageSize"

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.API_PAGE_SIZE
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= settings.API_PAGE_SIZE_MAX:
            raise exceptions.ValidationError(
                {self.page_size_query_param: [
                    _("Must be an integer from 1 to %(max)s.") % {"max": settings.API_PAGE_SIZE_MAX}]})
        return int(raw)

    def decode_cursor(self, request):
        invalid = exceptions.ValidationError(
            {self.cursor_query_param: [_("Not a cursor this API gave (use the next or previous link).")]})
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
