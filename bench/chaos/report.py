"""What a run found, saved to ``.devstack/chaos-results/<seed>.json`` and printed."""

import dataclasses
import json
from collections import Counter

from bench.chaos.checks import mail_event_ids
from bench.chaos.common import RESULTS_DIR


def _kind(call) -> str:
    return f"{call.kind} in a batch" if call.batch else call.kind


def outcome_of(*, seed: int, users: list, calls: list, injector, browsers: list, mail, slack, found: dict,
               timing: dict, load_s: float, drain_s: float) -> dict:
    """What the run found, as saved and reported."""
    return {"seed": seed, "users": len(users), "calls": len(calls), "load_s": round(load_s, 1),
            "drain_s": round(drain_s, 1),
            "answers": dict(Counter(str(c.status) for c in calls)),
            "retried_calls": sum(c.attempts > 1 for c in calls),
            "retries_because": dict(sum((c.retried_because for c in calls), Counter())),
            "entries": len({c.key for c in calls if c.ok}),
            "kinds": {kind: {"asked": n, "done": sum(c.ok for c in calls if _kind(c) == kind)}
                      for kind, n in Counter(_kind(c) for c in calls).items()},
            "faults": [dataclasses.asdict(f) for f in injector.done],
            "fault_counts": dict(Counter(f.name for f in injector.done)),
            "browser_connects": sum(b.connects for b in browsers),
            "browser_gaps_reopened": sum(b.gaps for b in browsers),
            "channels": {"email_users": sum(u.email for u in users), "slack_users": sum(u.slack for u in users),
                         "mails": len(mail.messages),
                         "mails_repeated": sum(n - 1 for n in Counter(mail_event_ids(mail)).values()),
                         "slack_messages": sum(slack.paths.values())},
            "browser_refusals": dict(sum((b.refusals for b in browsers), Counter())),
            "latency": timing, "failed_checks": {k: v[:20] for k, v in found.items() if v},
            "counts": {k: len(v) for k, v in found.items()}}


def report(outcome: dict) -> None:
    """Save the outcome to RESULTS_DIR and print it."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{outcome['seed']}.json").write_text(json.dumps(outcome, indent=2, default=str))
    print(f"\nCHAOS seed={outcome['seed']} calls={outcome['calls']} entries={outcome['entries']} "
          f"faults={len(outcome['faults'])} answers={outcome['answers']} retried={outcome['retried_calls']}")
    kinds = ", ".join(f"{kind} {n['asked']}/{n['done']}" for kind, n in outcome["kinds"].items())
    print(f"  operations (asked/done): {kinds}")
    print(f"  the platform's own: {outcome.get('platform_own')}")
    print(f"  faults: {outcome['fault_counts']}")
    print(f"  retries because: {outcome['retries_because']}")
    print(f"  browsers: {outcome['browser_connects']} connections, refused/dropped {outcome['browser_refusals']}, "
          f"reopened on a gap in the ids {outcome['browser_gaps_reopened']}")
    print(f"  channels: {outcome['channels']}")
    for name, figures in outcome["latency"].items():
        print(f"  commit -> connected browser, {name}: {figures}")
    for name, count in outcome["counts"].items():
        print(f"  {'FAIL' if count else 'ok  '} {name}: {count}")
    if outcome["failed_checks"]:
        print(f"\nFAILED. Replay with: python -m bench.chaos --seed {outcome['seed']} (same options)")
        print("faults (planned at, began at, fault, down for):")
        for fault in outcome["faults"]:
            print(f"  {fault['at_s']:7.1f}s {fault['started_s']:7.1f}s {fault['name']:<16} {fault['duration_s']:5.1f}s")
        print(json.dumps(outcome["failed_checks"], indent=2, default=str))
    else:
        print("\nPASSED: nothing lost, duplicated, invented or out of order; the ledger reconciles.")
