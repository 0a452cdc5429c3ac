"""Sign-in pages beyond Django's own: the lockout page, and the staff's second factor (enrol with
an authenticator app, then a code at every sign-in, or a recovery code)."""

import base64
import math

import segno
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from django.views.i18n import set_language
from django_otp import login as otp_login

from accounts import selectors, services


def login_locked_out(request, original_response=None, credentials=None):
    """axes' answer to a login while its username or address is locked out: what happened, until
    when, and who can lift it. 429 with Retry-After, as the API's rates answer."""
    minutes = math.ceil(settings.LOGIN_LOCKOUT_S / 60)
    response = render(request, "registration/locked_out.html", {
        "failures_max": settings.LOGIN_FAILURES_MAX, "minutes": minutes}, status=429)
    response["Retry-After"] = str(settings.LOGIN_LOCKOUT_S)
    return response


@require_POST
def language_choose(request):
    """The language switcher of every page: Django's ``set_language`` (the cookie, back to ``next``),
    and for a signed-in user, their choice recorded: their notifications are written in it."""
    response = set_language(request)
    language = request.POST.get("language")
    if request.user.is_authenticated and language and translation.check_for_language(language) \
            and language in dict(settings.LANGUAGES):
        services.language_choose(user=request.user, language=language)
    return response


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/admin/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return "/admin/"
    return target


@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Verify with a code (or a recovery code); a user without an authenticator enrols first."""
    user, next_url = request.user, _next(request)
    if request.user.is_verified():
        return redirect(next_url)
    enrolled = selectors.two_factor_enrolled(user=user)
    error = ""
    if request.method == "POST":
        token = request.POST.get("token", "").strip()
        if enrolled:
            device = services.two_factor_verify(user=user, token=token)
            if device is not None:
                otp_login(request, device)
                return redirect(next_url)
        else:
            confirmed = services.two_factor_enrolment_confirm(user=user, token=token)
            if confirmed is not None:
                device, codes = confirmed
                otp_login(request, device)
                return render(request, "registration/two_factor_recovery_codes.html",
                              {"codes": codes, "next": next_url})
        error = _("That code is not valid (or came too soon after a wrong one); try the current one.")
    context = {"next": next_url, "error": error, "enrolled": enrolled}
    if not enrolled:
        device = services.two_factor_enrolment_start(user=user)
        context.update(secret=base64.b32encode(device.bin_key).decode(), config_url=device.config_url,
                       qr_svg=segno.make(device.config_url, error="m").svg_inline(scale=4))
    return render(request, "registration/two_factor.html", context, status=200 if not error else 400)
