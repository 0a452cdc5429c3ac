"""Where the chaos run's own stack runs: its directory, ports and environment.

PostgreSQL, Redis, Kafka and Pushpin of the chaos run live in ``.devstack/chaos/`` on ports
of their own, so that stopping them never touches ``make run``'s or the tests' services.
No side effects: bench/chaos/settings.py (the Django settings) and the harness apply ``CHAOS_ENV``.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAOS_DIR = ROOT / ".devstack" / "chaos"
CHAOS_PG_PORT = 54359
CHAOS_REDIS_PORT = 63819
CHAOS_KAFKA_PORT = 29192
CHAOS_KAFKA_CONTROLLER_PORT = 29193
CHAOS_PUBLIC_PORT = 18300  # Pushpin
CHAOS_WEB_PORT = 18301  # gunicorn, behind it
CHAOS_PUSHPIN_PORT_OFFSET = 600

CHAOS_ENV = {
    "DJANGO_SETTINGS_MODULE": "bench.chaos.settings",
    "SECRET_KEY": "chaos-only-secret-key-9d3f1b7a5c2e4d6f8a0b",
    "DEBUG": "0",
    "HTTPS_ONLY": "0",
    "DATABASE_URL": f"postgres://prepaid@127.0.0.1:{CHAOS_PG_PORT}/prepaid",
    "REDIS_URL": f"redis://127.0.0.1:{CHAOS_REDIS_PORT}/0",
    "CELERY_BROKER_URL": f"redis://127.0.0.1:{CHAOS_REDIS_PORT}/0",
    "CELERY_RESULT_BACKEND": "",
    "CACHE_KEY_PREFIX": "chaos",
    "KAFKA_BOOTSTRAP_SERVERS": f"localhost:{CHAOS_KAFKA_PORT}",
    "KAFKA_TOPIC_WALLET_EVENTS": "wallet-events",
    "KAFKA_TOPIC_WALLET_EVENTS_DLT": "wallet-events.DLT",
    "NOTIFICATIONS_CONSUMER_GROUP": "notification-service",
    "NOTIFICATIONS_DLT_STORE_GROUP": "notification-service.dlt-store",
    "NOTIFICATIONS_EMAIL_GROUP": "notification-email",
    "NOTIFICATIONS_SLACK_GROUP": "notification-slack",
    "GRIP_KEY": "chaos-only-grip-key-4e6a8c0b2d4f6a8c0e2b",
    "GRIP_CONTROL_URLS": f"http://127.0.0.1:{25561 + CHAOS_PUSHPIN_PORT_OFFSET}",
    "WEB_BIND": f"127.0.0.1:{CHAOS_WEB_PORT}",
    "PROMETHEUS_MULTIPROC_DIR": str(CHAOS_DIR / "metrics"),
    "LOG_LEVEL": "INFO",  # each record handled, for the post-mortem of a failed run
    # The run drives 200 users from one address, far past a person's rate.
    "API_WRITES_PER_USER_PER_MINUTE": "1000000",
    "API_WRITES_PER_ADDRESS_PER_MINUTE": "1000000",
    "API_STREAM_TOKENS_PER_USER_PER_MINUTE": "1000000",
    "API_STREAM_TOKENS_PER_ADDRESS_PER_MINUTE": "1000000",
    "API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE": "1000000",
    # Caps low enough that charges and transfers in meet them in the mix (refused: nothing written).
    "WALLET_BALANCE_MAX_UNVERIFIED_WON": "150000",
    "WALLET_BALANCE_MAX_VERIFIED_WON": "400000",
    "TRANSFER_DAILY_MAX_UNVERIFIED_WON": "60000",
    "TRANSFER_DAILY_MAX_VERIFIED_WON": "200000",
    # Money valid for 20 s, a notice 10 s before, the sweep every 5 s: expiries and notices in the mix (the
    # wallets' oldest money expires while the clients spend and charge).
    "WALLET_BALANCE_VALIDITY_DAYS": str(20 / 86400),
    "WALLET_EXPIRY_NOTICE_DAYS_BEFORE": str(10 / 86400),
    "WALLET_EXPIRY_SWEEP_INTERVAL_S": "5",
    # scripts/devstack.sh: where and on which ports the chaos stack runs.
    "DEVSTACK_DIR": str(CHAOS_DIR),
    "DEVSTACK_PG_PORT": str(CHAOS_PG_PORT),
    "DEVSTACK_REDIS_PORT": str(CHAOS_REDIS_PORT),
    "DEVSTACK_KAFKA_PORT": str(CHAOS_KAFKA_PORT),
    "DEVSTACK_KAFKA_CONTROLLER_PORT": str(CHAOS_KAFKA_CONTROLLER_PORT),
    "DEVSTACK_PUSHPIN_PORT": str(CHAOS_PUBLIC_PORT),
    "DEVSTACK_PUSHPIN_ORIGIN": f"127.0.0.1:{CHAOS_WEB_PORT}",
    "DEVSTACK_PUSHPIN_PORT_OFFSET": str(CHAOS_PUSHPIN_PORT_OFFSET),
}
