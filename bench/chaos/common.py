"""What every part of the chaos run shares: where it runs, its limits, its voice."""

import time

from bench.chaos.environment import CHAOS_PUBLIC_PORT, ROOT

BASE_URL = f"http://127.0.0.1:{CHAOS_PUBLIC_PORT}"
RESULTS_DIR = ROOT / ".devstack" / "chaos-results"  # outside the stack's directory, which each run starts afresh
CALL_GIVE_UP_S = 600  # a call still without a definite answer after this is reported unresolved
DRAIN_TIMEOUT_S = 300
HOLD_CLOCKS_APART_S = 2  # more than the client's and the server's reckonings of a hold's expiry differ

RETRIED_STATUSES = {408, 429, 500, 502, 503, 504}


STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[chaos {time.monotonic() - STARTED:6.1f}s] {text}", flush=True)
