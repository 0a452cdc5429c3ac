"""Deployment: Django's deploy checklist is clean with production settings; HTTPS only; the admin
is for staff, and money records are read-only in it."""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import RequestFactory

from tests.helpers import staff_sign_in

ROOT = Path(__file__).resolve().parents[2]


def production_env() -> dict:
    """What a deployment sets: no DEBUG, its own secret key and host; everything else at its default."""
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "HTTPS_ONLY", "SECRET_KEY")}
    return {**env, "DJANGO_SETTINGS_MODULE": "prepaid.settings", "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "wallet.example.com",
            "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()}


def test_check_deploy_is_clean_with_production_settings():
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=production_env(), capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_asks_for_keys_of_its_own_to_seal_bank_accounts():
    env = {name: value for name, value in production_env().items() if name != "FIELD_ENCRYPTION_KEYS"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "wallets.W001" in result.stderr + result.stdout


def test_check_deploy_flags_plain_http_settings():  # the check above can fail
    env = {**production_env(), "HTTPS_ONLY": "0"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "SECURE_SSL_REDIRECT" in result.stderr + result.stdout



@pytest.mark.django_db
def test_https_only_redirects_plain_http_but_not_the_health_checks(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    r = client.get("/api/v1/wallet")
    assert r.status_code == 301 and r["Location"].startswith("https://")
    # Through the proxy, which says the client used HTTPS:
    assert client.get("/api/v1/wallet", HTTP_X_FORWARDED_PROTO="https").status_code == 401
    assert client.get("/health/live").status_code == 200


MONEY_APPS = {"ledger", "outbox", "wallets", "audit"}


@pytest.mark.django_db
def test_money_records_are_read_only_in_the_admin_even_for_a_superuser(django_user_model, client):
    superuser = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    request = RequestFactory().get("/admin/")
    request.user = superuser
    money_admins = {model: model_admin for model, model_admin in admin.site._registry.items()
                    if model._meta.app_label in MONEY_APPS}
    assert {m._meta.model_name for m in money_admins} >= {"journalentry", "posting", "account", "outboxevent",
                                                           "payment", "wallet", "idempotencyrecord", "operation",
                                                           "hold", "custodyreport"}
    for model_admin in money_admins.values():
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
    staff_sign_in(client, superuser)
    for model in money_admins:
        meta = model._meta
        assert client.get(f"/admin/{meta.app_label}/{meta.model_name}/").status_code == 200  # may look
        assert client.post(f"/admin/{meta.app_label}/{meta.model_name}/add/", {}).status_code == 403


@pytest.mark.django_db
def test_the_admin_is_for_staff_only(client, user):
    client.force_login(user)
    r = client.get("/admin/ledger/journalentry/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]
