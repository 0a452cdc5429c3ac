"""The chaos run (bench/chaos/): its short version under `make test`, and the harness's own judgement.

The short run starts a stack of its own (.devstack/chaos/, other ports), so that stopping its
PostgreSQL, Redis, Kafka and Pushpin never touches the services the rest of the suite uses.
"""

import os
import re
import subprocess
import sys

import pytest

from bench.chaos.checks import in_order_of, stream_findings
from bench.chaos.faults import FAULT_KINDS, fault_schedule
from tests.support import ROOT


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_the_short_chaos_run_loses_duplicates_and_invents_nothing():
    """Every fault once (seed 7) under ~100 s of load from 20 users and their browsers; every check of
    the full run (bench/chaos/: checks) must pass."""
    # A shell's environment, not this test process's (its database, Redis and topics are the suite's).
    env = {name: os.environ[name] for name in ("PATH", "HOME", "LANG", "USER", "JAVA_HOME") if name in os.environ}
    done = subprocess.run([sys.executable, "-m", "bench.chaos", "--short"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=840)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-12_000:]
    assert "PASSED" in done.stdout
    for kind in FAULT_KINDS:
        assert f": {kind} for" in done.stdout, f"fault {kind} was not injected"
    # Expiry is in the mix: money expired and notices went while the clients spent and charged.
    own = re.search(r"the platform's own: \{'expiries': (\d+), 'expired_won': \d+, 'expiry_notices': (\d+)\}",
                    done.stdout)
    assert own and int(own.group(1)) > 0 and int(own.group(2)) > 0, done.stdout[-3_000:]


def test_the_schedule_is_the_seeds_and_every_kind_of_fault_comes_in_each_round():
    def schedule(seed):
        return fault_schedule(seed, cycles=3, gap_s=(3, 12), down_s=(2, 10), session_timeout_s=10)

    one = schedule(42)
    assert one == schedule(42)  # replayable
    assert one != schedule(43)
    for round_start in range(0, len(one), len(FAULT_KINDS)):
        assert sorted(f.name for f in one[round_start:round_start + len(FAULT_KINDS)]) == sorted(FAULT_KINDS)
    assert all(a.at_s < b.at_s for a, b in zip(one, one[1:], strict=False))
    # Pauses outlast the Kafka session timeout: the group gives the paused member's partitions away.
    assert all(f.duration_s > 10 for f in one if f.name.startswith("pause-"))


def test_a_browser_stream_is_judged_against_the_commit_order():
    want = ["a", "b", "c", "d"]
    assert stream_findings(["a", "b", "c", "d"], want) == {
        "missing events": [], "with duplicates": [], "out of order": [], "given events never committed": []}
    found = stream_findings(["a", "c", "b", "b", "x"], want)
    assert found["missing events"] == ["d"]
    assert found["with duplicates"] == ["b"]
    assert found["out of order"] == ["a", "c", "b", "x"]
    assert found["given events never committed"] == ["x"]
    # A replay after a reconnect that repeats an event is a duplicate, not a reordering.
    assert stream_findings(["a", "b", "a", "c", "d"], want)["with duplicates"] == ["a"]
    assert stream_findings(["a", "b", "a", "c", "d"], want)["out of order"] == []
    assert in_order_of(["b", "d"], want) and not in_order_of(["d", "b"], want)
