"""The hordak peer: a DRF API whose spend is what a Django team reaching for django-hordak would write
(lock the wallet's account, read its balance, transfer_to the merchant), with no idempotency and no
events. On the platform's PostgreSQL, a database of its own."""

import os

import dj_database_url

SECRET_KEY = "peer-bench-only-0c5a4b9e2d7f4e1a8b3c6d9e0f1a2b3c"  # noqa: S105 - a local benchmark
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "rest_framework",
    "rest_framework.authtoken",
    "mptt",
    "hordak",
    "peer",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "peer.urls"
DATABASES = {"default": dj_database_url.parse(
    os.environ.get("PEER_DATABASE_URL", "postgres://prepaid@127.0.0.1:54329/hordak_peer"), conn_max_age=60)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "Asia/Seoul"
DEFAULT_CURRENCY = "KRW"
CURRENCIES = ["KRW"]
HORDAK_DECIMAL_PLACES = 0
HORDAK_MAX_DIGITS = 15
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}
