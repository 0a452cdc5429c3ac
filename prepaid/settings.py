"""Django settings for prepaid.

Every setting that differs between machines comes from the environment; the
defaults point at the local stack started by ``scripts/devstack.sh`` (see
README). Limits are named settings, with their unit in the name, so that they
can be found and tuned.

Layout: the project's own sections first (core, database, Redis and Celery,
Kafka, health, API, auth, logging), then one section per app, each named after
it and its settings prefixed by it (``OUTBOX_*``; ``NOTIFICATIONS_*`` and
``SSE_*``; ``WALLET_*``, ``IDEMPOTENCY_*``, ``PAYMENT_*``). The ledger has none.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from prepaid.crypto import key_from_secret

BASE_DIR = Path(__file__).resolve().parent.parent

# This checkout's local settings, if any (`make` writes .env: a generated SECRET_KEY and
# DEBUG=1), so that manage.py works in any shell; a variable already set wins.
load_dotenv(BASE_DIR / ".env", override=False)


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# --- Core ------------------------------------------------------------------

INSECURE_SECRET_KEY = "django-insecure-local-development-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY", INSECURE_SECRET_KEY)
DEBUG = env_bool("DEBUG", False)
if not DEBUG and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the insecure development default while DEBUG is off; "
        "set SECRET_KEY to a long random value (or DEBUG=1 for local development)"
    )

# Fernet keys (url-safe base64 of 32 bytes; prepaid/crypto.py) that seal users' bank account numbers: the first
# seals, all open (rotation: put the new one first). Unset: one derived from SECRET_KEY (changing SECRET_KEY then
# makes what was sealed unreadable: set these in production).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS", "") or [key_from_secret(SECRET_KEY)]

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "http://localhost:8000,http://127.0.0.1:8000")

# HTTPS only (on unless DEBUG): plain HTTP is redirected, cookies are sent over HTTPS only,
# browsers are told to use nothing else (HSTS). TLS ends at the proxy in front (Pushpin,
# or a load balancer before it); the proxy says which scheme the client used in
# X-Forwarded-Proto (Pushpin sets it itself: set_x_forwarded_protocol). The health checks
# stay reachable over HTTP, for the orchestrator. `manage.py check --deploy` is clean
# (prepaid/tests/test_deploy.py). Off for plain-HTTP setups (the compose file, tests).
HTTPS_ONLY = env_bool("HTTPS_ONLY", not DEBUG)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = HTTPS_ONLY
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = HTTPS_ONLY
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600) if HTTPS_ONLY else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)  # the header's directive; the list itself is opt-in
SESSION_COOKIE_HTTPONLY = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "knox",
    "drf_spectacular",
    "django_eventstream",
    "django_prometheus",
    # Sign-in protection: failed logins locked out (axes), a second factor for staff (django-otp:
    # TOTP and recovery codes), a content security policy on every page (django-csp).
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    # SQL kept as code: makemigrations writes a migration for each changed <app>/sql/ file (prepaid/sql.py).
    "django_migrate_sql",
    "prepaid",
    "accounts",
    "ledger",
    "outbox",
    "wallets",
    "notifications",
    "audit",
]

# GRIP (Pushpin's signature, Grip-* headers) is read by the one view that uses it,
# notifications.apis.events, not on every request: checking the signature on every
# API call was 7 % of the web process's CPU (bench/api_throughput.py, py-spy).
MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",  # HTTP metrics: first and last
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",  # ko, or en by the language cookie or Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",  # request.user.is_verified(): signed in with a second factor
    "accounts.middleware.StaffSessionMiddleware",  # staff: a second factor, and sessions that expire when idle
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "prepaid.errors.DatabaseUnavailableMiddleware",  # a 503, not a 500, while the database is out of reach
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # a locked-out login answered with its lockout page (axes: last)
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "prepaid.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "prepaid.wsgi.application"

# --- Database ----------------------------------------------------------------

DATABASE_URL = env_str("DATABASE_URL", "postgres://prepaid@127.0.0.1:54329/prepaid")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if not DATABASES["default"]["ENGINE"].endswith("postgresql"):
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL: the ledger relies on its features")
DATABASES["default"]["ENGINE"] = "django_prometheus.db.backends.postgresql"  # Django's, counting queries and errors
# A process keeps its connection between requests (gunicorn's sync workers) or tasks
# (Celery, prepaid/celery.py) for this long; Django checks it before reuse and
# replaces a broken one. The Procfile and docker-compose give web and worker 60 s.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE_S", 0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DATABASE_CONNECT_TIMEOUT_S", 5)
# Parameters are bound by the server, and a statement run this many times on a connection
# is prepared (psycopg): PostgreSQL parses and plans the hot statements (a wallet
# operation, the consumer's inserts, the relay's claim) once per connection instead of
# every time (docs/benchmarks.md). 0 turns both off, e.g. behind PgBouncer in transaction
# mode, which does not keep a connection's prepared statements.
DATABASE_PREPARE_THRESHOLD = env_int("DATABASE_PREPARE_THRESHOLD", 5)
if DATABASE_PREPARE_THRESHOLD > 0:
    DATABASES["default"]["OPTIONS"] |= {"server_side_binding": True, "prepare_threshold": DATABASE_PREPARE_THRESHOLD}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery -------------------------------------------------------------

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:63799/0")
REDIS_TIMEOUT_S = env_int("REDIS_TIMEOUT_S", 2)

# The cache (request rates: prepaid/throttling.py) is shared by every web process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "TIMEOUT": 300,
        "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", ""),
        "OPTIONS": {"socket_timeout": REDIS_TIMEOUT_S, "socket_connect_timeout": REDIS_TIMEOUT_S},
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# No task result is ever read by the platform, so none is stored by default (a result
# backend is not free: Celery builds one per thread that queues a task).
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "") or None
CELERY_TASK_IGNORE_RESULT = True
# Celery closes a worker's database connection around every task unless this is
# set (then every N tasks); with it, CONN_MAX_AGE and the health checks decide.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 10_000)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Periodic sweeps. Each entry expires before the next run is due, so a backlog
# of missed runs is dropped rather than executed all at once.
CELERY_BEAT_SCHEDULE: dict = {
    # Safety sweep: events whose on-commit trigger was lost (Redis down, process died) still go out.
    "outbox-relay-sweep": {
        "task": "outbox.tasks.outbox_relay_sweep",
        "schedule": 1.0,
        "options": {"expires": 1.0},
    },
    "outbox-purge-published": {
        "task": "outbox.tasks.outbox_purge_published",
        "schedule": 600.0,
        "options": {"expires": 590},
    },
    "payment-recover-pending": {
        "task": "wallets.tasks.payment_recover_pending",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "processed-events-purge": {
        "task": "notifications.tasks.processed_events_purge",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "notifications-purge": {
        "task": "notifications.tasks.notifications_purge",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "sse-events-trim": {
        "task": "notifications.tasks.sse_events_trim",
        "schedule": 600.0,
        "options": {"expires": 590},
    },
    "hold-expire-due": {
        "task": "wallets.tasks.hold_expire_due",
        "schedule": 10.0,
        "options": {"expires": 10},
    },
    "custody-report": {  # yesterday's outstanding balance (선불충전금), hourly: written once the day has ended
        "task": "wallets.tasks.custody_report_yesterday",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "audit-partitions-ensure": {
        "task": "audit.tasks.audit_partitions_ensure",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "audit-seal": {
        "task": "audit.tasks.audit_seal_today",
        "schedule": 600.0,
        "options": {"expires": 590},
    },
    "audit-reconcile": {
        "task": "audit.tasks.audit_reconcile",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "ledger-reconcile": {
        "task": "wallets.tasks.wallet_ledger_reconcile",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "idempotency-purge-expired": {
        "task": "wallets.tasks.idempotency_purge_expired",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "sign-in-records-purge": {
        "task": "accounts.tasks.sign_in_records_purge",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    "api-tokens-purge-expired": {
        "task": "accounts.tasks.api_tokens_purge_expired",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
}

# --- Kafka (every client is built in prepaid/kafka.py) ---------------------------

KAFKA_BOOTSTRAP_SERVERS = env_list("KAFKA_BOOTSTRAP_SERVERS", "localhost:29092")
KAFKA_TOPIC_WALLET_EVENTS = env_str("KAFKA_TOPIC_WALLET_EVENTS", "wallet-events")
KAFKA_TOPIC_WALLET_EVENTS_DLT = env_str("KAFKA_TOPIC_WALLET_EVENTS_DLT", f"{KAFKA_TOPIC_WALLET_EVENTS}.DLT")
KAFKA_WALLET_EVENTS_PARTITIONS = env_int("KAFKA_WALLET_EVENTS_PARTITIONS", 6)
KAFKA_DLT_PARTITIONS = env_int("KAFKA_DLT_PARTITIONS", 1)
KAFKA_REPLICATION_FACTOR = env_int("KAFKA_REPLICATION_FACTOR", 1)
KAFKA_REQUEST_TIMEOUT_MS = env_int("KAFKA_REQUEST_TIMEOUT_MS", 5000)
# A group member silent this long is dead: its partitions go to the others. kafka-python 3 (as Java's
# client) defaults to 45 s; events wait that long behind a consumer killed -9, and a broker restart
# with a dead member in the group held every partition that long (bench/chaos/). 10 s, heartbeats
# every 3 s: a killed consumer's partitions move within ~10 s.
KAFKA_CONSUMER_SESSION_TIMEOUT_MS = env_int("KAFKA_CONSUMER_SESSION_TIMEOUT_MS", 10_000)
# How old a consumer's view of the topics may get: after kafka_partitions_add, the longest a group
# takes to notice the new partitions and share them out (the library's 5 minutes held their events
# that long).
KAFKA_CONSUMER_METADATA_MAX_AGE_MS = env_int("KAFKA_CONSUMER_METADATA_MAX_AGE_MS", 15_000)
# Longest wait between tries to reach a broker that went away (the waits double from 50 ms). The
# library's 30 s meant a consumer came back up to 30 s after the broker did: toasts 56 s late after
# a 20 s Kafka outage (bench/chaos/). A try a second per client costs the broker nothing.
KAFKA_RECONNECT_BACKOFF_MAX_MS = env_int("KAFKA_RECONNECT_BACKOFF_MAX_MS", 1000)
# The producer (one per process): idempotent, acks=all, bounded waits.
KAFKA_PRODUCER_LINGER_MS = env_int("KAFKA_PRODUCER_LINGER_MS", 2)
KAFKA_PRODUCER_RETRIES = env_int("KAFKA_PRODUCER_RETRIES", 5)
KAFKA_PRODUCER_MAX_BLOCK_MS = env_int("KAFKA_PRODUCER_MAX_BLOCK_MS", 5000)
KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS = env_int("KAFKA_PRODUCER_DELIVERY_TIMEOUT_MS", 10_000)
KAFKA_PRODUCER_MAX_REQUEST_SIZE_BYTES = env_int("KAFKA_PRODUCER_MAX_REQUEST_SIZE_BYTES", 1_048_576)
KAFKA_PRODUCER_BATCH_SIZE_BYTES = env_int("KAFKA_PRODUCER_BATCH_SIZE_BYTES", 65_536)

# --- GRIP: Pushpin in front of Django ----------------------------------------------

# Pushpin signs the requests it proxies with this key (deploy/pushpin/pushpin.conf
# sig_key, filled in from the same variable by scripts/devstack.sh); Django believes a
# request came through Pushpin only if the signature checks out.
INSECURE_GRIP_KEY = "local-development-grip-key-never-in-production"  # noqa: S105
GRIP_KEY = env_str("GRIP_KEY", INSECURE_GRIP_KEY)
# Every Pushpin's publish endpoint (comma-separated): each event is published to all of
# them, so a client is reached whichever instance holds its stream.
GRIP_CONTROL_URLS = env_list("GRIP_CONTROL_URLS", "http://127.0.0.1:25561")
GRIP_PROXIES = [{"control_uri": url, "key": GRIP_KEY} for url in GRIP_CONTROL_URLS]

# --- Metrics (prepaid/metrics.py) -------------------------------------------------
# Every process of the platform writes its metrics here (prometheus-client's multiprocess
# mode); GET /metrics on any web worker reports them all. `make run` empties it at start.
METRICS_DIR = env_str("PROMETHEUS_MULTIPROC_DIR", str(BASE_DIR / ".devstack" / "metrics"))
os.environ["PROMETHEUS_MULTIPROC_DIR"] = METRICS_DIR  # read by prometheus-client when it is first imported
os.makedirs(METRICS_DIR, exist_ok=True)
# Files are named by host and pid, so that containers sharing the directory (docker-compose) never
# write to one another's (their pids repeat).
from prometheus_client import values as _prometheus_values  # noqa: E402 (after the directory is set)

from prepaid.metrics_files import metrics_process_id  # noqa: E402

_prometheus_values.ValueClass = _prometheus_values.MultiProcessValue(metrics_process_id)
# Who may read /metrics: the client's address as the trusted proxy reports it.
METRICS_ALLOWED_ADDRESSES = frozenset(env_list("METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1"))
PROMETHEUS_EXPORT_MIGRATIONS = False  # django-prometheus: no database query when a process starts

# --- Health --------------------------------------------------------------------

HEALTH_CHECK_TIMEOUT_S = env_int("HEALTH_CHECK_TIMEOUT_S", 2)

# --- Django REST framework, OpenAPI ----------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["prepaid.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "prepaid.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

# The addresses of the proxies in front of Django (Pushpin): a request from one of them
# is from the client its X-Forwarded-For names (prepaid/http.py); from anywhere else,
# that header is ignored.
TRUSTED_PROXY_ADDRESSES = env_list("TRUSTED_PROXY_ADDRESSES", "127.0.0.1,::1")
# Request rates (prepaid/throttling.py; over them: 429 with Retry-After). Writes: the
# wallet operations, marking notifications read, creating API tokens.
API_WRITES_PER_USER_PER_MINUTE = env_int("API_WRITES_PER_USER_PER_MINUTE", 120)
API_WRITES_PER_ADDRESS_PER_MINUTE = env_int("API_WRITES_PER_ADDRESS_PER_MINUTE", 600)
API_STREAM_TOKENS_PER_USER_PER_MINUTE = env_int("API_STREAM_TOKENS_PER_USER_PER_MINUTE", 30)
API_STREAM_TOKENS_PER_ADDRESS_PER_MINUTE = env_int("API_STREAM_TOKENS_PER_ADDRESS_PER_MINUTE", 120)

# Retry-After of a 503 answered while the database is out of reach (a restart, a failover).
API_UNAVAILABLE_RETRY_AFTER_S = env_int("API_UNAVAILABLE_RETRY_AFTER_S", 1)
# API tokens (django-rest-knox; accounts/): how long one lives, how many live ones a user may hold.
API_TOKEN_TTL_DAYS = env_int("API_TOKEN_TTL_DAYS", 30)
API_TOKENS_PER_USER_MAX = env_int("API_TOKENS_PER_USER_MAX", 10)
REST_KNOX = {
    "TOKEN_PREFIX": "prepaid_",  # so that secret scanners recognise a leaked token
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
}

# List APIs (transactions, notifications): page size, and the most ?pageSize= may ask.
API_PAGE_SIZE = env_int("API_PAGE_SIZE", 50)
API_PAGE_SIZE_MAX = env_int("API_PAGE_SIZE_MAX", 200)
# The admin's changelists count their rows exactly while the planner expects fewer than this; above it they
# show the planner's estimate (a count of ten million rows takes seconds).
ADMIN_EXACT_COUNT_MAX = env_int("ADMIN_EXACT_COUNT_MAX", 10_000)

SPECTACULAR_SETTINGS = {
    "TITLE": "prepaid API",
    "DESCRIPTION": (
        "Prepaid wallets: charge (through the payment gateway), spend, reverse; a double-entry ledger; "
        "notifications of each operation. Amounts are integer won. Every write needs an `Idempotency-Key`. "
        "Errors are `{code, message, fields?}` with a 4xx status; `code` is stable. Notifications also "
        "stream as Server-Sent Events from `GET /events/` (session, `Authorization: Token …`, or a stream "
        "token as `es-meta`)."),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # Enums stay inline (drf-spectacular's enum hook is left out); the error codes' one enum is on Error.
    "POSTPROCESSING_HOOKS": [
        "prepaid.openapi.close_request_bodies",
        "prepaid.openapi.link_operations",
        "prepaid.openapi.document_error_codes",
    ],
}

# --- Auth, i18n, static ------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

# Every password check goes through axes first: LOGIN_FAILURES_MAX failed logins within
# LOGIN_LOCKOUT_S for one username, or from one client address (the trusted proxy's
# X-Forwarded-For, as the rates read it), lock that username or address out for
# LOGIN_LOCKOUT_S (on the admin's login, the site's, any form that checks a password). API
# tokens are another credential: a locked-out user's tokens keep working.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_FAILURES_MAX = env_int("LOGIN_FAILURES_MAX", 5)
LOGIN_LOCKOUT_S = env_int("LOGIN_LOCKOUT_S", 900)
# The sign-in log (who signed in, when, from where) is kept a year (a security record, not a money one), then
# purged hourly with expired failed attempts and sessions, this many rows per statement.
LOGIN_ACCESS_LOG_RETENTION_DAYS = env_int("LOGIN_ACCESS_LOG_RETENTION_DAYS", 365)
LOGIN_RECORDS_PURGE_BATCH_SIZE = env_int("LOGIN_RECORDS_PURGE_BATCH_SIZE", 5000)
AXES_FAILURE_LIMIT = LOGIN_FAILURES_MAX
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_LOCKOUT_S)
AXES_USE_ATTEMPT_EXPIRATION = True  # failures older than the window no longer count
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own
AXES_CLIENT_IP_CALLABLE = "prepaid.http.client_address"
AXES_LOCKOUT_CALLABLE = "accounts.views.login_locked_out"
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False

# Staff sign in with a password and a one-time code (TOTP, or one of their recovery codes);
# enrolment is forced at the first sign-in. A staff session idle for STAFF_SESSION_IDLE_S
# ends (others last SESSION_COOKIE_AGE).
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "prepaid")
TWO_FACTOR_RECOVERY_CODES = 10
STAFF_SESSION_IDLE_S = env_int("STAFF_SESSION_IDLE_S", 1800)

# Korean first, English by the user's choice (the language cookie, set by /language) or Accept-Language.
# Message files: locale/<lang>/LC_MESSAGES/django.po, compiled by make (manage.py compilemessages).
LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", "한국어"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = "Asia/Seoul"  # times are shown in KST
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve app static files straight from the apps (no collectstatic needed locally).
WHITENOISE_USE_FINDERS = True

# --- Logging -------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        app: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
        for app in ("prepaid", "wallets", "ledger", "outbox", "notifications", "audit")
    },
}


# --- outbox --------------------------------------------------------------------

# Rows claimed (and sent to Kafka) per batch.
OUTBOX_RELAY_BATCH_SIZE = env_int("OUTBOX_RELAY_BATCH_SIZE", 500)
# One relay run drains until the outbox is empty or this much time is spent.
OUTBOX_RELAY_TIME_BUDGET_S = env_int("OUTBOX_RELAY_TIME_BUDGET_S", 10)
# Relays publishing at once, each a Celery task (run as many worker processes, --concurrency, for them
# to run in parallel): relay k of N owns the partitions p of the topic with p % N == k, one relay per
# partition at a time (outbox/relay.py). The beat's sweep publishes the partitions of a dead one.
OUTBOX_RELAYS = env_int("OUTBOX_RELAYS", 2)
# kafka_partitions_add pauses publishing for as long as this lease, renewed while it works: if the
# command dies, publishing resumes by itself (safe at every step of it).
OUTBOX_PAUSE_LEASE_S = env_int("OUTBOX_PAUSE_LEASE_S", 60)
# How long kafka_partitions_add waits, publishing paused, for every consumer group of the topic to
# catch up before it gives up (and resumes with the partitions as they were).
KAFKA_PARTITIONS_ADD_CATCH_UP_TIMEOUT_S = env_int("KAFKA_PARTITIONS_ADD_CATCH_UP_TIMEOUT_S", 600)
# ...and then, publishing again, for the running groups to share out the new partitions (it reports;
# nothing waits on it: a new partition is read from its start whenever its member comes).
KAFKA_PARTITIONS_ADD_ASSIGNMENT_WAIT_S = env_int("KAFKA_PARTITIONS_ADD_ASSIGNMENT_WAIT_S", 60)
# A triggered relay run waits this long before it claims, so that the commits meanwhile join its first
# batch instead of queueing the next run (bench/e2e_latency.py; 0: claim at once).
OUTBOX_RELAY_GATHER_MS = env_int("OUTBOX_RELAY_GATHER_MS", 0)
# How long a web process trusts its reading of the topic's partition count, to queue the relay owning
# an event's partition (outbox_relay_trigger).
OUTBOX_PARTITIONS_CACHE_S = env_int("OUTBOX_PARTITIONS_CACHE_S", 30)
# How long a triggered run waits, in all, for partition locks held by another run.
OUTBOX_RELAY_LOCK_WAIT_S = env_int("OUTBOX_RELAY_LOCK_WAIT_S", 5)
# Longest wait for Kafka to acknowledge one batch (bounds how long row locks are held).
OUTBOX_SEND_TIMEOUT_S = env_int("OUTBOX_SEND_TIMEOUT_S", 10)
# Back-off after a failed send: base * 2^(attempts-1), capped. The cap is also how long events may
# wait after Kafka is back from an outage (every row failed meanwhile): 30 s made a 10 s broker
# restart cost toasts up to 37 s (bench/chaos/); a few relays run at a time, so a try every 5 s
# during a long outage is cheap.
OUTBOX_RETRY_BACKOFF_BASE_MS = env_int("OUTBOX_RETRY_BACKOFF_BASE_MS", 500)
OUTBOX_RETRY_BACKOFF_MAX_MS = env_int("OUTBOX_RETRY_BACKOFF_MAX_MS", 5_000)
# A row that fails with an error Kafka calls non-retriable (e.g. too large) is parked after this many attempts.
OUTBOX_FAILED_AFTER_ATTEMPTS = env_int("OUTBOX_FAILED_AFTER_ATTEMPTS", 3)
# Published rows are kept this long as an audit trail, then deleted in batches.
OUTBOX_RETENTION_DAYS = env_int("OUTBOX_RETENTION_DAYS", 7)
OUTBOX_PURGE_BATCH_SIZE = env_int("OUTBOX_PURGE_BATCH_SIZE", 5000)
# A queued or running relay task keeps commits from queueing more (outbox.tasks.outbox_relay); after
# this long without the task ending (it died), a commit queues a new one. Longer than a run can last.
OUTBOX_TRIGGER_FLAG_TTL_S = env_int("OUTBOX_TRIGGER_FLAG_TTL_S", 30)

# --- notifications -------------------------------------------------------------

# The consumer of wallet events (run_consumer): its group, its batches, its retries.
NOTIFICATIONS_CONSUMER_GROUP = env_str("NOTIFICATIONS_CONSUMER_GROUP", "notification-service")
# The audit store's consumer group (manage.py run_audit_consumer): every event, kept for years.
AUDIT_CONSUMER_GROUP = env_str("AUDIT_CONSUMER_GROUP", "audit")
# Members of the audit consumer group that run_audit_consumer runs, each a process (a core, a GIL) of
# its own: catching up a backlog is CPU-bound in Python (bench/audit_consumer.py). At most the topic's
# partitions (KAFKA_WALLET_EVENTS_PARTITIONS); more would idle.
AUDIT_CONSUMER_PROCESSES = env_int("AUDIT_CONSUMER_PROCESSES", 2)
# How long each process of a command run as several (prepaid/processes.py) has after SIGTERM to finish
# what it holds before it is killed.
COMMAND_PROCESS_STOP_TIMEOUT_S = env_int("COMMAND_PROCESS_STOP_TIMEOUT_S", 30)
# Records per poll of the audit consumer: a poll is one transaction (bench/audit_consumer.py).
AUDIT_CONSUMER_MAX_POLL_RECORDS = env_int("AUDIT_CONSUMER_MAX_POLL_RECORDS", 1000)
# Month partitions of the audit store created ahead of time (the scheduled audit_partitions_ensure).
AUDIT_PARTITIONS_AHEAD_MONTHS = env_int("AUDIT_PARTITIONS_AHEAD_MONTHS", 3)
# What no purge may remove while younger than this: money records (the ledger, wallet operations, payments,
# refunds, holds, reports), audit events and operator actions: five years (the Electronic Financial Transactions
# Act, Art. 22; docs/compliance.md). The money tables are append-only and have no purge; the audit store's
# retention keeps at least this long whatever AUDIT_RETENTION_DAYS says (a system check refuses less).
RECORD_RETENTION_DAYS = env_int("RECORD_RETENTION_DAYS", 5 * 366)
# The hourly reconcile checks the postings written since its last mark, up to those older than this: no
# transaction writing a posting runs longer (a request's statements and locks are bounded far below it), so
# every posting under the mark is committed when it is read. `reconcile_ledger` (full) reads everything.
LEDGER_RECONCILE_SETTLE_S = env_int("LEDGER_RECONCILE_SETTLE_S", 300)
# How long audit events are kept: five years (the Electronic Financial Transactions Act, Art. 22).
AUDIT_RETENTION_DAYS = env_int("AUDIT_RETENTION_DAYS", 5 * 366)
# Where audit_retention archives an expired partition before dropping it (JSON Lines, gzip).
AUDIT_ARCHIVE_DIR = env_str("AUDIT_ARCHIVE_DIR", str(BASE_DIR / ".devstack" / "audit-archive"))
# The scheduled audit_reconcile leaves out the last seconds: events reach the store after their commit.
AUDIT_RECONCILE_LAG_S = env_int("AUDIT_RECONCILE_LAG_S", 300)
NOTIFICATIONS_CONSUMER_RETRIES = env_int("NOTIFICATIONS_CONSUMER_RETRIES", 3)
NOTIFICATIONS_CONSUMER_RETRY_INTERVAL_MS = env_int("NOTIFICATIONS_CONSUMER_RETRY_INTERVAL_MS", 1000)
NOTIFICATIONS_CONSUMER_POLL_TIMEOUT_MS = env_int("NOTIFICATIONS_CONSUMER_POLL_TIMEOUT_MS", 500)
NOTIFICATIONS_CONSUMER_MAX_POLL_RECORDS = env_int("NOTIFICATIONS_CONSUMER_MAX_POLL_RECORDS", 200)
# A consumer that spends longer than this on one polled batch leaves the group
# (its partitions go to the others) and rejoins on its next poll.
NOTIFICATIONS_CONSUMER_MAX_POLL_INTERVAL_MS = env_int("NOTIFICATIONS_CONSUMER_MAX_POLL_INTERVAL_MS", 300_000)
# The group that reads the DLT topic into DeadLetter rows, and how long parking a record may wait for Kafka.
NOTIFICATIONS_DLT_STORE_GROUP = env_str("NOTIFICATIONS_DLT_STORE_GROUP", f"{NOTIFICATIONS_CONSUMER_GROUP}.dlt-store")
NOTIFICATIONS_DLT_SEND_TIMEOUT_S = env_int("NOTIFICATIONS_DLT_SEND_TIMEOUT_S", 10)
# Parking a record waits for the DLT's acknowledgement, asking again with a back-off up to this.
NOTIFICATIONS_DLT_SEND_BACKOFF_MAX_S = env_int("NOTIFICATIONS_DLT_SEND_BACKOFF_MAX_S", 30)
# A consumer whose broker is out of reach asks again after 1 s, then 2, 3, ... up to this.
NOTIFICATIONS_KAFKA_UNREACHABLE_WAIT_MAX_S = env_int("NOTIFICATIONS_KAFKA_UNREACHABLE_WAIT_MAX_S", 10)
# Dedup rows are kept longer than any redelivery can come (Kafka keeps records 7 days).
NOTIFICATIONS_DEDUP_RETENTION_DAYS = env_int("NOTIFICATIONS_DEDUP_RETENTION_DAYS", 30)
# A user's notifications are kept this long (the page and the API list them; the ledger keeps every
# operation, whatever this says): older ones are deleted by the hourly purge.
NOTIFICATIONS_RETENTION_DAYS = env_int("NOTIFICATIONS_RETENTION_DAYS", 365)
# The unread badge counts up to this many (the page and the API's unreadCount).
NOTIFICATIONS_UNREAD_COUNT_MAX = env_int("NOTIFICATIONS_UNREAD_COUNT_MAX", 999)
# Old dedup rows, notifications and stored SSE events are deleted this many per statement.
NOTIFICATIONS_PURGE_BATCH_SIZE = env_int("NOTIFICATIONS_PURGE_BATCH_SIZE", 5000)

# Channels beyond the browser (run_consumer --channel email|slack), each on its own group so that
# one channel's outage never delays another or the toast. A channel that is down is waited
# for (doubling up to this), without spending a record's retries.
NOTIFICATIONS_CHANNEL_GROUPS = {
    "email": env_str("NOTIFICATIONS_EMAIL_GROUP", "notification-email"),
    "slack": env_str("NOTIFICATIONS_SLACK_GROUP", "notification-slack"),
}
# The platform's own groups reading the wallet events: kafka_partitions_add waits for each to catch up
# even while it is stopped (one that came back behind would read a user's old and new partitions at
# once); another group it waits for only while it runs.
KAFKA_WALLET_EVENTS_OWN_GROUPS = [NOTIFICATIONS_CONSUMER_GROUP, *NOTIFICATIONS_CHANNEL_GROUPS.values(),
                                  AUDIT_CONSUMER_GROUP]
NOTIFICATIONS_CHANNEL_UNAVAILABLE_WAIT_MAX_S = env_int("NOTIFICATIONS_CHANNEL_UNAVAILABLE_WAIT_MAX_S", 30)
# Their fetches wait to gather this much, or this long (a toast may not wait; a mail may wait a second).
# The in-app consumer's fetches: answered once this much has gathered, or after this long (bench/e2e_latency.py).
NOTIFICATIONS_CONSUMER_FETCH_MIN_BYTES = env_int("NOTIFICATIONS_CONSUMER_FETCH_MIN_BYTES", 1)
NOTIFICATIONS_CONSUMER_FETCH_MAX_WAIT_MS = env_int("NOTIFICATIONS_CONSUMER_FETCH_MAX_WAIT_MS", 500)
NOTIFICATIONS_CHANNEL_FETCH_MIN_BYTES = env_int("NOTIFICATIONS_CHANNEL_FETCH_MIN_BYTES", 64 * 1024)
NOTIFICATIONS_CHANNEL_FETCH_MAX_WAIT_MS = env_int("NOTIFICATIONS_CHANNEL_FETCH_MAX_WAIT_MS", 1000)
# Email: Django's SMTP backend (local default: a mail catcher on 127.0.0.1:1025).
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT_S = env_int("EMAIL_TIMEOUT_S", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "prepaid <no-reply@prepaid.local>")
# A mail's Message-ID is <eventId>.<this>: the same event is the same message.
NOTIFICATIONS_EMAIL_MESSAGE_ID_DOMAIN = env_str("NOTIFICATIONS_EMAIL_MESSAGE_ID_DOMAIN", "prepaid.local")
# Slack incoming webhooks: only URLs under these prefixes are accepted (Slack's own), so the
# platform cannot be made to call internal addresses; a 429's Retry-After is waited up to the max.
SLACK_WEBHOOK_URL_PREFIXES = env_list("SLACK_WEBHOOK_URL_PREFIXES", "https://hooks.slack.com/services/")
SLACK_TIMEOUT_S = env_int("SLACK_TIMEOUT_S", 10)
SLACK_RETRY_AFTER_MAX_S = env_int("SLACK_RETRY_AFTER_MAX_S", 60)

# Server-Sent Events (django-eventstream behind Pushpin, GRIP): one channel per user,
# events stored in PostgreSQL (replayed to clients that reconnect with
# Last-Event-ID), published after commit to every Pushpin in GRIP_CONTROL_URLS, which
# hold the browsers' streams.
SSE_TOKEN_MAX_AGE_S = env_int("SSE_TOKEN_MAX_AGE_S", 300)
# Stored SSE events older than this are trimmed (clients gone longer start afresh).
SSE_EVENT_RETENTION_S = env_int("SSE_EVENT_RETENTION_S", 24 * 3600)
# How long the consumer waits for Pushpin to take a poll's publishes (it goes on if not:
# the events are stored, and a client that reconnects reads them).
SSE_PUBLISH_TIMEOUT_S = env_int("SSE_PUBLISH_TIMEOUT_S", 5)
EVENTSTREAM_STORAGE_CLASS = "notifications.sse.EventStorage"
EVENTSTREAM_CHANNELMANAGER_CLASS = "notifications.sse.UserChannelManager"

# --- wallets ---------------------------------------------------------------------

# Largest single charge, spend or reversal, in won.
WALLET_AMOUNT_MAX = env_int("WALLET_AMOUNT_MAX", 10_000_000)
# Verification tiers (docs/compliance.md): the largest balance a wallet may hold and the most won its user
# may send to others in a day (Korean time, from midnight; returns do not count), by the user's tier.
# The Electronic Financial Transactions Act's decree: ₩2,000,000 with real-name verification, ₩500,000 without.
WALLET_BALANCE_MAX_UNVERIFIED_WON = env_int("WALLET_BALANCE_MAX_UNVERIFIED_WON", 500_000)
WALLET_BALANCE_MAX_VERIFIED_WON = env_int("WALLET_BALANCE_MAX_VERIFIED_WON", 2_000_000)
TRANSFER_DAILY_MAX_UNVERIFIED_WON = env_int("TRANSFER_DAILY_MAX_UNVERIFIED_WON", 500_000)
TRANSFER_DAILY_MAX_VERIFIED_WON = env_int("TRANSFER_DAILY_MAX_VERIFIED_WON", 2_000_000)
WALLET_TEXT_MAX_LENGTH = env_int("WALLET_TEXT_MAX_LENGTH", 200)
# A statement's longest period, and the most lines it may hold (a longer one: ask for a shorter period).
STATEMENT_PERIOD_MAX_DAYS = env_int("STATEMENT_PERIOD_MAX_DAYS", 366)
STATEMENT_LINES_MAX = env_int("STATEMENT_LINES_MAX", 10_000)
# A hold's longest life (its expiresInS at most this); the expiry sweep's batch.
HOLD_EXPIRY_MAX_S = env_int("HOLD_EXPIRY_MAX_S", 30 * 24 * 3600)
HOLD_EXPIRY_BATCH_SIZE = env_int("HOLD_EXPIRY_BATCH_SIZE", 500)
# Remaining-balance refunds (잔액환불, docs/compliance.md): a user may have what is left of the wallet refunded
# once they have used this share of their last charge (the Fair Trade Commission's standard terms: 60 %, or 80 %
# of a charge of ₩10,000 or less; the supervisor's 2024 guidance says 80 %); an operator may grant it on the
# other grounds (the service cannot be used, merchants cut, terms worsened). Cards take back what they can,
# newest charge first; the rest is paid to the user's bank account.
WALLET_REFUND_USED_PERCENT_MIN = env_int("WALLET_REFUND_USED_PERCENT_MIN", 60)
WALLET_REFUND_SMALL_CHARGE_MAX_WON = env_int("WALLET_REFUND_SMALL_CHARGE_MAX_WON", 10_000)
WALLET_REFUND_SMALL_CHARGE_USED_PERCENT_MIN = env_int("WALLET_REFUND_SMALL_CHARGE_USED_PERCENT_MIN", 80)
# Expiry: money in a wallet is valid this long from when it came in (oldest spent first); notices go this
# many days before (the standard terms: three or more, one 7 days before); an expired balance stays
# refundable at this share until the limitation period ends. Days may be fractions (the chaos run's are).
WALLET_BALANCE_VALIDITY_DAYS = env_float("WALLET_BALANCE_VALIDITY_DAYS", 5 * 365)
WALLET_EXPIRY_NOTICE_DAYS_BEFORE = sorted((float(d) for d in env_list("WALLET_EXPIRY_NOTICE_DAYS_BEFORE", "30,7,1")),
                                          reverse=True)
WALLET_EXPIRED_REFUND_PERCENT = env_int("WALLET_EXPIRED_REFUND_PERCENT", 90)
WALLET_EXPIRED_REFUNDABLE_DAYS = env_float("WALLET_EXPIRED_REFUNDABLE_DAYS", 5 * 365)
WALLET_EXPIRY_SWEEP_INTERVAL_S = env_float("WALLET_EXPIRY_SWEEP_INTERVAL_S", 3600)
WALLET_EXPIRY_BATCH_SIZE = env_int("WALLET_EXPIRY_BATCH_SIZE", 500)
CELERY_BEAT_SCHEDULE["balance-expiry"] = {  # notices, then expiries
    "task": "wallets.tasks.balance_expiry_sweep",
    "schedule": WALLET_EXPIRY_SWEEP_INTERVAL_S,
    "options": {"expires": WALLET_EXPIRY_SWEEP_INTERVAL_S},
}
# Recipient look-ups (and transfers, which look the recipient up) per user per minute: what keeps a
# client from enumerating accounts.
API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE = env_int("API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE", 20)
# A batch (POST /api/v1/wallet/batches): at most this many operations, one statement. Its items count
# against their own rate per user (a batch counts once among the writes), and its transfers among the
# recipient look-ups.
WALLET_BATCH_ITEMS_MAX = env_int("WALLET_BATCH_ITEMS_MAX", 500)
API_BATCH_ITEMS_PER_USER_PER_MINUTE = env_int("API_BATCH_ITEMS_PER_USER_PER_MINUTE", 60_000)

# Idempotency-Key on POSTs: how long a key and its response are kept, and after
# how long an "in flight" key left by a crashed request may be taken over.
IDEMPOTENCY_KEY_TTL_S = env_int("IDEMPOTENCY_KEY_TTL_S", 24 * 3600)
IDEMPOTENCY_KEY_MAX_LENGTH = 255
IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S = env_int("IDEMPOTENCY_IN_FLIGHT_TIMEOUT_S", 60)
IDEMPOTENCY_PURGE_BATCH_SIZE = env_int("IDEMPOTENCY_PURGE_BATCH_SIZE", 1000)

# The payment gateway that confirms charges and refunds them: sandbox (local, the default)
# or toss (Toss Payments; wallets/toss.py), and the sandbox's scripted answers.
PAYMENT_GATEWAY = env_str("PAYMENT_GATEWAY", "sandbox")
PAYMENT_SANDBOX_DECLINED_AMOUNTS = {int(a) for a in env_list("PAYMENT_SANDBOX_DECLINED_AMOUNTS", "4040")}
PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS = {int(a) for a in env_list("PAYMENT_SANDBOX_UNAVAILABLE_AMOUNTS", "5030")}
PAYMENT_SANDBOX_CANCEL_REFUSED_AMOUNTS = {int(a) for a in env_list("PAYMENT_SANDBOX_CANCEL_REFUSED_AMOUNTS", "4090")}
# The payout gateway that pays refunds to bank accounts: sandbox (local, the default; Toss's payout API
# later), and the sandbox's scripted answers (refused amounts and accounts; amounts it does not answer).
PAYOUT_GATEWAY = env_str("PAYOUT_GATEWAY", "sandbox")
PAYOUT_SANDBOX_REFUSED_AMOUNTS = {int(a) for a in env_list("PAYOUT_SANDBOX_REFUSED_AMOUNTS", "4220")}
PAYOUT_SANDBOX_UNAVAILABLE_AMOUNTS = {int(a) for a in env_list("PAYOUT_SANDBOX_UNAVAILABLE_AMOUNTS", "5040")}
PAYOUT_SANDBOX_REFUSED_ACCOUNTS = set(env_list("PAYOUT_SANDBOX_REFUSED_ACCOUNTS", "9999999999"))
# Toss Payments: test_sk_/test_ck_ keys from its developer console for the test
# environment, live_ keys in production. The secret key never leaves this process
# except in the Authorization header to Toss.
TOSS_SECRET_KEY = env_str("TOSS_SECRET_KEY", "")
TOSS_CLIENT_KEY = env_str("TOSS_CLIENT_KEY", "")
TOSS_API_BASE_URL = env_str("TOSS_API_BASE_URL", "https://api.tosspayments.com")
TOSS_CONNECT_TIMEOUT_S = env_int("TOSS_CONNECT_TIMEOUT_S", 5)
TOSS_READ_TIMEOUT_S = env_int("TOSS_READ_TIMEOUT_S", 30)  # Toss asks for a generous read timeout
if PAYMENT_GATEWAY == "toss" and not (TOSS_SECRET_KEY and TOSS_CLIENT_KEY):
    raise ImproperlyConfigured("PAYMENT_GATEWAY=toss needs TOSS_SECRET_KEY and TOSS_CLIENT_KEY (test_sk_, test_ck_)")
# A PENDING payment (or a REQUESTED refund) older than this is settled by recovery
# (the request that made it died, or the gateway did not answer it).
PAYMENT_RECOVERY_AFTER_S = env_int("PAYMENT_RECOVERY_AFTER_S", 120)
PAYMENT_RECOVERY_BATCH_SIZE = env_int("PAYMENT_RECOVERY_BATCH_SIZE", 100)


# --- Content security policy (django-csp) ----------------------------------------------------
# Every page's scripts, styles, frames and connections come from this origin alone, and with
# PAYMENT_GATEWAY=toss from Toss's widget (its script from js.tosspayments.com, its frames and
# calls under *.tosspayments.com, as Toss documents); an inline script runs only with the
# response's nonce. Violations are reported to /csp-report (logged, counted). CSP_REPORT_ONLY=1
# sends the policy as Content-Security-Policy-Report-Only, to roll it out watching the reports.
SECURITY_POLICY_REPORT_ONLY = env_bool("CSP_REPORT_ONLY", False)  # (a CSP_ setting would read as django-csp 3)
_TOSS_ORIGINS = ["https://*.tosspayments.com"] if PAYMENT_GATEWAY == "toss" else []
_CONTENT_SECURITY_POLICY = {"DIRECTIVES": {
    "default-src": [csp_constants.SELF],
    "script-src": [csp_constants.SELF, csp_constants.NONCE, *_TOSS_ORIGINS],
    "style-src": [csp_constants.SELF, *_TOSS_ORIGINS],
    "img-src": [csp_constants.SELF, "data:", *_TOSS_ORIGINS],
    "font-src": [csp_constants.SELF, *_TOSS_ORIGINS],
    "connect-src": [csp_constants.SELF, *_TOSS_ORIGINS],
    "frame-src": _TOSS_ORIGINS or [csp_constants.NONE],
    "frame-ancestors": [csp_constants.NONE],
    "form-action": [csp_constants.SELF],
    "base-uri": [csp_constants.SELF],
    "object-src": [csp_constants.NONE],
    "report-uri": "/csp-report",
}, "EXCLUDE_URL_PREFIXES": [
    # No document there, only JSON, the event stream and probes: building the header for each API call
    # was 3 % of the web process's CPU (bench/api_throughput.py, py-spy).
    "/api/v1/", "/events/", "/metrics", "/health/",
]}
if SECURITY_POLICY_REPORT_ONLY:
    CONTENT_SECURITY_POLICY_REPORT_ONLY = _CONTENT_SECURITY_POLICY
    CONTENT_SECURITY_POLICY = None
else:
    CONTENT_SECURITY_POLICY = _CONTENT_SECURITY_POLICY
# The API documentation page's Swagger UI comes from its CDN (drf-spectacular's default).
API_DOCS_ORIGINS = ["https://cdn.jsdelivr.net"]
