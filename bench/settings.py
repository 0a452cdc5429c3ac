"""Settings for benchmarks: the local services, a database and topics of their own."""

import os

os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-5b1e0c9d7f3a2e8b6c4d")
os.environ["DEBUG"] = "0"  # whatever the shell or .env says
os.environ.setdefault("HTTPS_ONLY", "0")  # plain HTTP, locally
os.environ.setdefault("DATABASE_URL", "postgres://prepaid@127.0.0.1:54329/prepaid_bench")
# Request rates: the benchmarks drive one user far past a person's rate.
os.environ.setdefault("API_WRITES_PER_USER_PER_MINUTE", "1000000")
os.environ.setdefault("API_WRITES_PER_ADDRESS_PER_MINUTE", "1000000")
os.environ.setdefault("API_STREAM_TOKENS_PER_USER_PER_MINUTE", "1000000")
os.environ.setdefault("API_STREAM_TOKENS_PER_ADDRESS_PER_MINUTE", "1000000")
os.environ.setdefault("API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE", "1000000")
os.environ.setdefault("API_BATCH_ITEMS_PER_USER_PER_MINUTE", "100000000")
# Verification tiers' caps: the load's wallets hold more than a person's (the tiers' tests set their own).
for _name in ("WALLET_BALANCE_MAX_UNVERIFIED_WON", "WALLET_BALANCE_MAX_VERIFIED_WON",
              "TRANSFER_DAILY_MAX_UNVERIFIED_WON", "TRANSFER_DAILY_MAX_VERIFIED_WON"):
    os.environ.setdefault(_name, "1000000000")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:63799/14")
os.environ.setdefault("KAFKA_TOPIC_WALLET_EVENTS", "bench.wallet-events")
os.environ.setdefault("NOTIFICATIONS_CONSUMER_GROUP", "bench.notification-service")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The benchmarks' own Pushpin (bench/common.bench_pushpin): its control ports are moved by this offset.
BENCH_PUSHPIN_PORT_OFFSET = 300
os.environ.setdefault("GRIP_CONTROL_URLS", f"http://127.0.0.1:{25561 + BENCH_PUSHPIN_PORT_OFFSET}")

from prepaid.settings import *  # noqa: E402,F403
