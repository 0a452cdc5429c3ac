"""API tokens in the admin: seen (never their secrets: only digests are stored) and revoked, not created.

knox's own admin lets staff mint a token for any user, that is, act as them; here an
operator can only look and revoke (delete). Users create their tokens themselves
(``POST /api/v1/auth/tokens``) and operators with ``manage.py create_api_token``.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from accounts.models import OperatorAction
from accounts.services import login_lockout_lift
from prepaid.admin import ReadOnlyAdmin

admin.site.unregister(AuthToken)
admin.site.unregister(AccessAttempt)
# Second-factor devices hold their users' secrets (a TOTP key, recovery codes): not shown, not made
# here. A lost device is reset with `manage.py two_factor_reset` (recorded).
admin.site.unregister(TOTPDevice)
admin.site.unregister(StaticDevice)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """Failed sign-ins (axes): an operator lifts a lockout here, recorded as an operator action."""

    actions = ["lift_lockout"]

    @admin.action(description=_("Lift the lockout of the selected usernames and addresses"))
    def lift_lockout(self, request, queryset):
        lifted = 0
        for username, address in set(queryset.values_list("username", "ip_address")):
            lifted += login_lockout_lift(by=request.user, username=username) if username else 0
            lifted += login_lockout_lift(by=request.user, address=address) if address else 0
        self.message_user(request, ngettext(
            "Lockout lifted (%(count)d failed attempt forgotten).",
            "Lockout lifted (%(count)d failed attempts forgotten).", lifted) % {"count": lifted}, messages.SUCCESS)


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
    search_fields = ("target", "username")
    readonly_fields = [f.name for f in OperatorAction._meta.fields]
