"""Pagination shared by the list APIs."""

from django.conf import settings
from rest_framework.pagination import CursorPagination


class NewestFirstPagination(CursorPagination):
    """Cursor pagination, newest first; ``?pageSize=`` up to ``API_PAGE_SIZE_MAX``."""

    ordering = ("-created_at", "-id")
    page_size_query_param = "pageSize"

    def get_page_size(self, request):
        self.page_size = settings.API_PAGE_SIZE
        self.max_page_size = settings.API_PAGE_SIZE_MAX
        return super().get_page_size(request)
