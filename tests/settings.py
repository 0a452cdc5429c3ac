"""Settings for the test suite: the real local services, kept apart from `make run`.

Tests use their own database (pytest-django's ``test_`` copy), their own Redis
database number, their own Kafka topics and their own Pushpin instance (in front
of the web process the tests start), so a running platform and a test run on one
machine do not read each other's messages.
"""

import os
import tempfile
import uuid

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0c1f7b0e5d2a4b8f9e3a6c7d")
os.environ["DEBUG"] = "0"  # whatever the shell or .env says
os.environ.setdefault("HTTPS_ONLY", "0")  # plain HTTP, locally
# Request rates: high enough for the suite's own traffic; the throttling tests set theirs.
os.environ.setdefault("API_WRITES_PER_USER_PER_MINUTE", "1000000")
os.environ.setdefault("API_WRITES_PER_ADDRESS_PER_MINUTE", "1000000")
os.environ.setdefault("API_STREAM_TOKENS_PER_USER_PER_MINUTE", "1000000")
os.environ.setdefault("API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE", "1000000")
os.environ.setdefault("API_STREAM_TOKENS_PER_ADDRESS_PER_MINUTE", "1000000")
# Verification tiers' caps: the suite's wallets hold more than a person's (the tiers' tests set their own).
for _name in ("WALLET_BALANCE_MAX_UNVERIFIED_WON", "WALLET_BALANCE_MAX_VERIFIED_WON",
              "TRANSFER_DAILY_MAX_UNVERIFIED_WON", "TRANSFER_DAILY_MAX_VERIFIED_WON"):
    os.environ.setdefault(_name, "1000000000")
# Failed logins: the suite's own come from one address; the lockout tests set theirs.
os.environ.setdefault("LOGIN_FAILURES_MAX", "1000")
# Cache keys (request counts) of this test run only: a user id or address of an earlier run is not
# this run's. Set once, so that the processes the tests start share it.
os.environ.setdefault("CACHE_KEY_PREFIX", f"test-{uuid.uuid4().hex[:12]}")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/15")
os.environ.setdefault("KAFKA_TOPIC_WALLET_EVENTS", "test.wallet-events")
os.environ.setdefault("NOTIFICATIONS_CONSUMER_GROUP", "test.notification-service")
os.environ.setdefault("NOTIFICATIONS_EMAIL_GROUP", "test.notification-email")
os.environ.setdefault("NOTIFICATIONS_SLACK_GROUP", "test.notification-slack")
# The tests' Slack is a local server.
os.environ.setdefault("SLACK_WEBHOOK_URL_PREFIXES", "https://hooks.slack.com/services/,http://127.0.0.1:")
os.environ.setdefault("NOTIFICATIONS_CHANNEL_UNAVAILABLE_WAIT_MAX_S", "2")
# The tests' Pushpin (tests/fixtures.py starts it with scripts/devstack.sh): public port,
# Django behind it, control ports moved by an offset so that it runs beside make run's.
TEST_PUSHPIN_PORT = int(os.environ.setdefault("TEST_PUSHPIN_PORT", "18000"))
TEST_WEB_PORT = int(os.environ.setdefault("TEST_WEB_PORT", "18001"))
TEST_PUSHPIN_PORT_OFFSET = int(os.environ.setdefault("TEST_PUSHPIN_PORT_OFFSET", "100"))
os.environ.setdefault("GRIP_KEY", "test-only-grip-key-7a1c9e4b2d8f6a0c3e5b7d9f")
os.environ.setdefault("GRIP_CONTROL_URLS", f"http://127.0.0.1:{25561 + TEST_PUSHPIN_PORT_OFFSET}")
# Tests wait for a worker by reading a task's result.
os.environ.setdefault("CELERY_RESULT_BACKEND", os.environ["REDIS_URL"])
# This run's metrics (prometheus-client's multiprocess files), shared by the processes it starts.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="prepaid-test-metrics-"))

from prepaid.settings import *  # noqa: E402,F403

# Test-only tasks (tests/tasks.py) for the workers the tests start.
INSTALLED_APPS = [*INSTALLED_APPS, "tests"]  # noqa: F405
# Outermost: it sees the finished response (tests/e2e/test_api_crash.py).
MIDDLEWARE = ["tests.middleware.CrashAfterCommitMiddleware", *MIDDLEWARE]  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
