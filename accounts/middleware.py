"""Staff sessions: a second factor before the admin, the operations page or the staff API, and an
idle timeout.

A staff user signed in with a password alone (``request.user.is_verified()`` false) is sent to
the second-factor page from anything under ``/admin/`` (its own login and logout excepted), and
a session's request to the staff API (``/api/v1/ops/``) is answered 403 ``two_factor_required``.
An API token is another credential (it was issued to someone already signed in) and is left to
the API's own checks. Every staff request moves the session's expiry to
``STAFF_SESSION_IDLE_S`` from now: a staff session idle that long has ended.
"""

from urllib.parse import urlencode

from django.conf import settings
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse

from accounts.services import SignInErrorCode
from prepaid.errors import error_body

ADMIN_OPEN = ("/admin/login/", "/admin/logout/")
STAFF_API = "/api/v1/ops/"


class StaffSessionMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)  # no session (an API client's token, a probe): nothing to do
        user = request.user
        if user.is_authenticated and user.is_staff:
            request.session.set_expiry(settings.STAFF_SESSION_IDLE_S)
            if not user.is_verified():
                path = request.path
                if path.startswith("/admin/") and not path.startswith(ADMIN_OPEN):
                    return redirect(f"{reverse('two-factor')}?{urlencode({'next': request.get_full_path()})}")
                if path.startswith(STAFF_API) and "HTTP_AUTHORIZATION" not in request.META:
                    code = SignInErrorCode.TWO_FACTOR_REQUIRED
                    return JsonResponse(error_body(code, "session: the staff API needs a session signed in with a "
                                                         "second factor (/accounts/two-factor/), or an API token"),
                                        status=code.http_status)
        return self.get_response(request)
