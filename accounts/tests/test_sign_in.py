"""Sign-in protection: failed logins locked out per username and per address (django-axes), a second
factor for staff (TOTP computed from the device's own secret, recovery codes), staff sessions that
expire when idle. Through the real login forms, the admin and the staff API."""

import datetime

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import OperatorAction
from tests.helpers import api_token, staff_sign_in

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"
SITE_LOGIN = "/accounts/login/"


@pytest.fixture
def lockout(settings):
    settings.LOGIN_FAILURES_MAX = settings.AXES_FAILURE_LIMIT = 3
    settings.LOGIN_LOCKOUT_S = 600
    settings.AXES_COOLOFF_TIME = datetime.timedelta(seconds=600)


def sign_in(client, path, username, password, address="203.0.113.7"):
    """A login through the public proxy (its X-Forwarded-For names the client), as Pushpin forwards it."""
    return client.post(path, {"username": username, "password": password, "next": "/"},
                       REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=address)


@pytest.mark.parametrize("path", [ADMIN_LOGIN, SITE_LOGIN])
def test_failed_logins_lock_the_username_out_even_with_the_right_password(lockout, path, django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "right-password-1")
    client = Client()
    for _ in range(2):
        assert sign_in(client, path, "ops", "wrong").status_code == 200  # the form again, with its error
    assert sign_in(client, path, "ops", "wrong").status_code == 429  # the third: locked out
    locked = sign_in(client, path, "ops", "right-password-1", address="198.51.100.9")  # another address too
    assert locked.status_code == 429 and locked["Retry-After"] == "600"
    assert "로그인 실패가 너무 많습니다" in locked.content.decode() and "10분" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_lockout_ends_after_its_cool_off(lockout, django_user_model):
    django_user_model.objects.create_user("minji", password="right-password-1")
    for _ in range(3):
        sign_in(Client(), SITE_LOGIN, "minji", "wrong")
    assert sign_in(Client(), SITE_LOGIN, "minji", "right-password-1").status_code == 429
    _expire_attempts()
    assert sign_in(Client(), SITE_LOGIN, "minji", "right-password-1").status_code == 302  # signed in


def _expire_attempts():
    """The cool-off has passed: every failed attempt older than it."""
    from axes.models import AccessAttemptExpiration

    past = timezone.now() - datetime.timedelta(seconds=601)
    AccessAttempt.objects.update(attempt_time=past)
    AccessAttemptExpiration.objects.update(expires_at=past)


def test_an_attacker_rotating_usernames_from_one_address_is_stopped(lockout, django_user_model):
    django_user_model.objects.create_user("victim", password="right-password-1")
    for name in ("alice", "bob", "carol"):
        sign_in(Client(), SITE_LOGIN, name, "guess", address="192.0.2.66")
    assert sign_in(Client(), SITE_LOGIN, "victim", "right-password-1", address="192.0.2.66").status_code == 429
    # The victim, from their own address, is not locked out by the attacker's guesses.
    assert sign_in(Client(), SITE_LOGIN, "victim", "right-password-1", address="198.51.100.20").status_code == 302


def test_a_locked_out_users_api_tokens_still_work(lockout, user, api_client_for):
    token_client = api_client_for(user)
    for _ in range(3):
        sign_in(Client(), SITE_LOGIN, user.username, "wrong")
    assert sign_in(Client(), SITE_LOGIN, user.username, f"pw-{user.username}").status_code == 429
    assert token_client.get("/api/v1/wallet").status_code == 200


def test_an_operator_lifts_a_lockout_and_it_is_recorded(lockout, django_user_model, staff_user):
    django_user_model.objects.create_user("minji", password="right-password-1")
    for _ in range(3):
        sign_in(Client(), SITE_LOGIN, "minji", "wrong")
    assert sign_in(Client(), SITE_LOGIN, "minji", "right-password-1").status_code == 429
    admin = Client()
    staff_sign_in(admin, staff_user)
    attempt = AccessAttempt.objects.get(username="minji")
    done = admin.post("/admin/axes/accessattempt/", {"action": "lift_lockout", "_selected_action": [attempt.id],
                                                     "index": 0}, follow=True)
    assert "로그인 잠금을 해제했습니다" in done.content.decode()
    assert sign_in(Client(), SITE_LOGIN, "minji", "right-password-1").status_code == 302
    assert OperatorAction.objects.filter(action="login_lockout_lift", target="user:minji",
                                         username=staff_user.username).exists()


def test_the_unlock_command_lifts_an_address_and_records_it(lockout, django_user_model, staff_user):
    for name in ("a", "b", "c"):
        sign_in(Client(), SITE_LOGIN, name, "guess", address="192.0.2.66")
    call_command("login_unlock", "--address", "192.0.2.66", "--by", staff_user.username)
    assert not AccessAttempt.objects.filter(ip_address="192.0.2.66").exists()
    assert OperatorAction.objects.filter(action="login_lockout_lift", target="address:192.0.2.66").exists()


# --- Two-factor for staff ------------------------------------------------------------------


def current_code(device: TOTPDevice, *, ahead: int = 0) -> str:
    """What the user's authenticator app shows now (``ahead`` steps later), from the device's secret."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=ahead)
    return f"{code:0{device.digits}d}"


def test_the_first_staff_sign_in_enrols_a_second_factor_then_every_sign_in_asks_for_it(django_user_model):
    django_user_model.objects.create_superuser("ops", "ops@example.com", "right-password-1")
    browser = Client()
    assert sign_in(browser, ADMIN_LOGIN, "ops", "right-password-1").status_code == 302
    sent = browser.get("/admin/")
    assert sent.status_code == 302 and sent["Location"].startswith("/accounts/two-factor/?next=")
    page = browser.get(sent["Location"]).content.decode()
    assert "2단계 로그인 설정" in page and "<svg" in page  # the key as a QR code and as text
    device = TOTPDevice.objects.get(user__username="ops", confirmed=False)
    assert device.config_url.startswith("otpauth://totp/")

    assert browser.post("/accounts/two-factor/", {"token": "000000", "next": "/admin/"}).status_code == 400
    TOTPDevice.objects.filter(id=device.id).update(throttling_failure_count=0, throttling_failure_timestamp=None)
    enrolled = browser.post("/accounts/two-factor/", {"token": current_code(device), "next": "/admin/"})
    codes = [c.strip() for c in enrolled.content.decode().split("<code>")[1:]]
    assert enrolled.status_code == 200 and len(codes) == 10
    assert browser.get("/admin/").status_code == 200  # verified
    assert browser.get("/admin/operations/").status_code == 200

    # The next sign-in asks for a code again: a recovery code works once.
    again = Client()
    sign_in(again, ADMIN_LOGIN, "ops", "right-password-1")
    assert again.get("/admin/").status_code == 302
    recovery = codes[0].split("</code>")[0]
    assert again.post("/accounts/two-factor/", {"token": recovery, "next": "/admin/"}).status_code == 302
    assert again.get("/admin/").status_code == 200
    assert not StaticToken.objects.filter(token=recovery).exists()  # used up
    third = Client()
    sign_in(third, ADMIN_LOGIN, "ops", "right-password-1")
    assert third.post("/accounts/two-factor/", {"token": recovery, "next": "/admin/"}).status_code == 400


def test_a_code_from_the_authenticator_signs_in(django_user_model):
    ops = django_user_model.objects.create_superuser("ops", "ops@example.com", "right-password-1")
    device = TOTPDevice.objects.create(user=ops, name="authenticator", confirmed=True)
    browser = Client()
    sign_in(browser, ADMIN_LOGIN, "ops", "right-password-1")
    assert browser.post("/accounts/two-factor/", {"token": current_code(device), "next": "/admin/"}).status_code == 302
    assert browser.get("/admin/wallets/wallet/").status_code == 200


def test_a_session_without_a_second_factor_cannot_use_the_staff_api_but_a_token_can(staff_user, api_client_for):
    browser = Client()
    browser.force_login(staff_user)  # a password only
    refused = browser.get("/api/v1/ops/dead-letters")
    assert refused.status_code == 403 and refused.json()["code"] == "two_factor_required"
    staff_sign_in(browser, staff_user)
    assert browser.get("/api/v1/ops/dead-letters").status_code == 200
    token = Client(HTTP_AUTHORIZATION=f"Token {api_token(staff_user)}")
    assert token.get("/api/v1/ops/dead-letters").status_code == 200


def test_the_admin_shows_no_second_factor_secret(staff_user):
    browser = Client()
    staff_sign_in(browser, staff_user)
    assert browser.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert browser.get("/admin/otp_static/staticdevice/").status_code == 404


def test_a_lost_device_is_reset_by_command_and_recorded(django_user_model, staff_user):
    ops = django_user_model.objects.create_superuser("ops", "ops@example.com", "right-password-1")
    TOTPDevice.objects.create(user=ops, name="authenticator", confirmed=True)
    call_command("two_factor_reset", "ops", "--by", staff_user.username)
    assert not TOTPDevice.objects.filter(user=ops).exists()
    assert OperatorAction.objects.filter(action="two_factor_reset", target="user:ops").exists()
    browser = Client()
    sign_in(browser, ADMIN_LOGIN, "ops", "right-password-1")
    assert "2단계 로그인 설정" in browser.get("/accounts/two-factor/").content.decode()


# --- Sessions ------------------------------------------------------------------------------


def test_a_staff_session_expires_when_idle_and_others_last_their_age(settings, staff_user, user):
    settings.STAFF_SESSION_IDLE_S = 120
    staff = Client()
    staff_sign_in(staff, staff_user)
    staff.get("/admin/")
    assert 110 <= staff.session.get_expiry_age() <= 120
    customer = Client()
    customer.force_login(user)
    customer.get("/")
    assert customer.session.get_expiry_age() == settings.SESSION_COOKIE_AGE
    # Idle past the limit: the session has ended.
    from django.contrib.sessions.models import Session

    Session.objects.filter(session_key=staff.session.session_key).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1))
    assert staff.get("/admin/")["Location"].startswith("/admin/login/")


def test_logging_out_does_not_revoke_api_tokens(user, api_client_for):
    token_client = api_client_for(user)
    browser = Client()
    browser.force_login(user)
    assert browser.post("/accounts/logout/").status_code == 302
    assert token_client.get("/api/v1/wallet").status_code == 200
