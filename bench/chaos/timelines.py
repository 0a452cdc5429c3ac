"""Where the time went: each event's timeline (commit, Kafka, notification, browser) and the
commit-to-browser latencies during faults and between them."""

from bench.chaos.browsers import Browser
from bench.chaos.common import RESULTS_DIR


def latencies(browsers: list[Browser], windows: list[tuple[float, float]], seed: int) -> dict:
    """Commit -> browser, in seconds, at the browsers that stay connected (a flapping one's wait is its
    own absence): over all events, those committed while a fault lasted, and those committed outside."""
    from notifications.models import Notification
    from outbox.models import OutboxEvent

    outbox = {str(e): (c.timestamp(), p.timestamp() if p else None)
              for e, c, p in OutboxEvent.objects.values_list("event_id", "created_at", "published_at")}
    committed = {e: c for e, (c, _) in outbox.items()}
    notified = {str(e): t.timestamp() for e, t in Notification.objects.values_list("event_id", "created_at")}
    waits: dict[str, list[float]] = {"all": [], "during a fault": [], "outside faults": [],
                                     "stage commit -> Kafka (relay)": [], "stage Kafka -> notification (consumer)": [],
                                     "stage notification -> browser (push)": []}
    timeline = []
    for browser in browsers:
        if browser.flapping:
            continue
        for event_id, at in dict(reversed(browser.received)).items():  # each event's first arrival
            if event_id in committed:
                published = outbox[event_id][1]
                timeline.append((event_id, browser.user.id, committed[event_id], published, notified.get(event_id), at))
            if event_id in committed:
                wait = at - committed[event_id]
                waits["all"].append(wait)
                during = any(a <= committed[event_id] <= b for a, b in windows)
                waits["during a fault" if during else "outside faults"].append(wait)
                published = outbox[event_id][1]
                if published and event_id in notified:
                    waits["stage commit -> Kafka (relay)"].append(published - committed[event_id])
                    waits["stage Kafka -> notification (consumer)"].append(notified[event_id] - published)
                    waits["stage notification -> browser (push)"].append(at - notified[event_id])

    def summary(values: list[float]) -> dict:
        values = sorted(values)
        if not values:
            return {"events": 0}

        def pct(p):
            return round(values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))], 3)

        return {"events": len(values), "p50_s": pct(50), "p99_s": pct(99), "max_s": round(values[-1], 3)}

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    with open(RESULTS_DIR / f"{seed}-events.csv", "w") as out:  # for a look at where the time went
        out.write("event_id,user_id,committed,published,notified,at_browser\n")
        out.writelines(",".join(str(v) for v in row) + "\n" for row in sorted(timeline, key=lambda r: r[2]))
    return {name: summary(values) for name, values in waits.items()}
