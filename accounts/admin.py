"""API tokens in the admin: seen (never their secrets: only digests are stored) and revoked, not created.

knox's own admin lets staff mint a token for any user, that is, act as them; here an
operator can only look and revoke (delete). Users create their tokens themselves
(``POST /api/v1/auth/tokens``) and operators with ``manage.py create_api_token``.
"""

from django.contrib import admin
from knox.models import AuthToken

from accounts.models import OperatorAction
from prepaid.admin import ReadOnlyAdmin

admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("token_key", "user", "created", "expiry")
    list_select_related = ("user",)
    search_fields = ("token_key", "user__username")
    readonly_fields = ("token_key", "user", "created", "expiry")
    exclude = ("digest",)
    ordering = ("-created",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OperatorAction)
class OperatorActionAdmin(ReadOnlyAdmin):
    """What operators did, newest first: written by the services that acted, never edited."""

    list_display = ("created_at", "username", "action", "target", "detail")
    list_filter = ("action",)
    search_fields = ("=target", "username", "detail")
    readonly_fields = [f.name for f in OperatorAction._meta.fields]
