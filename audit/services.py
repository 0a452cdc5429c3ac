"""Writes of the audit store: events (a poll's in one transaction: ``audit_events_record``), partitions,
seals, retention."""

import dataclasses
import datetime
import gzip
import hashlib
import json
import logging
import os
import pathlib
import re
from collections import Counter

import orjson
import psycopg
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from audit import metrics
from audit.models import GENESIS_HASH, ChainHead, RetentionCut, Seal

logger = logging.getLogger(__name__)


def audit_time(moment: datetime.datetime) -> str:
    """A moment as the audit store's content writes it: UTC, ISO 8601, microseconds."""
    return moment.astimezone(datetime.UTC).isoformat(timespec="microseconds")


_CANONICAL_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")


def _occurred(text: str) -> str:
    """An event's occurredAt as ``audit_time`` writes it (the outbox already writes it so: kept as is)."""
    if _CANONICAL_UTC.fullmatch(text):
        return text
    return audit_time(datetime.datetime.fromisoformat(text))


def audit_payload(event: dict) -> str:
    """An event's canonical JSON (keys sorted, no spaces, UTF-8 as is: what ``json.dumps`` writes with
    sorted keys, compact separators and ``ensure_ascii=False``): the row's payload as stored and as hashed."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS).decode()


_text = json.JSONEncoder(ensure_ascii=False).encode  # a JSON string as json.dumps writes it


def audit_content(*, event_id, user_id: int, event_type: str, occurred_at: str, payload: str, topic: str,
                  partition: int, offset: int, received_at: str) -> str:
    """A row's canonical content, as hashed into its chain (and recomputed by ``audit_verify``): the
    canonical JSON of {eventId, eventType, kafka: [topic, partition, offset], occurredAt, payload,
    receivedAt, userId} (``audit_payload``'s form), written out around the payload's canonical text
    (``payload``) and the two moments (``audit_time``) so that none is serialised twice."""
    return (f'{{"eventId":{_text(str(event_id))},"eventType":{_text(event_type)},'
            f'"kafka":[{_text(topic)},{int(partition)},{int(offset)}],"occurredAt":{_text(occurred_at)},'
            f'"payload":{payload},"receivedAt":{_text(received_at)},"userId":{int(user_id)}}}')


def chain_hash(previous_hash: str, content: str) -> str:
    return hashlib.sha256((previous_hash + content).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class Received:
    """One event as the audit consumer took it from Kafka."""

    event: dict
    topic: str
    partition: int
    offset: int


def audit_event_record(received: Received) -> str:
    """Store one event (``audit_events_record`` of one): ``stored`` or ``duplicate``."""
    return audit_events_record([received])[0]


def audit_events_record(batch: list[Received]) -> list[str]:
    """Store a poll's events, each once, at the end of its user's chain, in one transaction of five
    statements however many they are: the chains' heads created if new and locked (in user order: two
    consumers, a partition changing hands, never interleave a chain nor deadlock), the events already
    stored found, every new row's hash computed here (sha256 of the head's hash and its content), the
    rows written in one INSERT, the heads moved. Each event's outcome: ``stored`` or ``duplicate``.
    A month without its partition yet gets it, and the batch is written again."""
    for attempt in range(2):
        try:
            with transaction.atomic():
                return _append(batch)
        except IntegrityError as exc:
            if attempt or "no partition of relation" not in str(exc):
                raise
            for month in {datetime.datetime.fromisoformat(r.event["occurredAt"]) for r in batch}:
                audit_partition_ensure(at=month)
    raise AssertionError("unreachable")


def _append(batch: list[Received]) -> list[str]:
    users = sorted({r.event["userId"] for r in batch})
    occurred = [_occurred(r.event["occurredAt"]) for r in batch]
    # psycopg's own cursor on Django's connection (the same transaction): parameters bound by the
    # server, the lists sent as one text each and split there (quoting each element in Python was most
    # of a batch's time), and the rows written with COPY.
    connection.ensure_connection()
    # Its errors as Django's (a lost connection an OperationalError: the consumer waits for the database).
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute("INSERT INTO audit_chainhead (user_id, seq, hash, updated_at) "
                       "SELECT u, 0, %s, now() FROM unnest(string_to_array(%s, ',')::integer[]) AS u "
                       "ON CONFLICT (user_id) DO NOTHING", [GENESIS_HASH, ",".join(map(str, users))])
        cursor.execute("SELECT user_id, seq, hash FROM audit_chainhead "
                       "WHERE user_id = ANY(string_to_array(%s, ',')::integer[]) ORDER BY user_id FOR UPDATE",
                       [",".join(map(str, users))])
        heads = {user_id: (seq, head_hash) for user_id, seq, head_hash in cursor.fetchall()}
        cursor.execute("SELECT a.event_id::text FROM audit_auditevent a "
                       "JOIN unnest(string_to_array(%s, ',')::uuid[], string_to_array(%s, ',')::timestamptz[]) "
                       "AS b(event_id, occurred_at) USING (event_id, occurred_at)",
                       [",".join(r.event["eventId"] for r in batch), ",".join(occurred)])
        seen = {event_id for (event_id,) in cursor.fetchall()}
        received_at = audit_time(timezone.now())
        rows, outcomes = [], []
        for received, occurred_at in zip(batch, occurred, strict=True):
            event = received.event
            if event["eventId"] in seen:
                outcomes.append("duplicate")
                continue
            seen.add(event["eventId"])
            seq, previous = heads[event["userId"]]
            payload = audit_payload(event)
            new_hash = chain_hash(previous, audit_content(
                event_id=event["eventId"], user_id=event["userId"], event_type=event["eventType"],
                occurred_at=occurred_at, payload=payload, topic=received.topic, partition=received.partition,
                offset=received.offset, received_at=received_at))
            heads[event["userId"]] = (seq + 1, new_hash)
            # A line of COPY's text format: only the payload can hold a backslash (JSON's escapes; no
            # tab, newline or other control character: JSON escapes them), the rest are uuids, numbers,
            # names, timestamps and hex.
            escaped = payload.replace("\\", "\\\\")
            rows.append(f"{event['eventId']}\t{event['userId']}\t{seq + 1}\t{event['eventType']}\t{occurred_at}\t"
                        f"{escaped}\t{received.topic}\t{received.partition}\t"
                        f"{received.offset}\t{received_at}\t{previous}\t{new_hash}\n")
            outcomes.append("stored")
        if rows:
            with cursor.copy("COPY audit_auditevent (event_id, user_id, seq, event_type, occurred_at, payload, "
                             "kafka_topic, kafka_partition, kafka_offset, received_at, previous_hash, hash) "
                             "FROM STDIN") as copy:
                copy.write("".join(rows))
            cursor.execute(
                "UPDATE audit_chainhead h SET seq = v.seq, hash = v.hash, updated_at = now() "
                "FROM unnest(string_to_array(%s, ',')::integer[], string_to_array(%s, ',')::bigint[], "
                "string_to_array(%s, ',')) AS v(user_id, seq, hash) WHERE h.user_id = v.user_id AND h.seq <> v.seq",
                [",".join(map(str, heads)), ",".join(str(seq) for seq, _ in heads.values()),
                 ",".join(h for _, h in heads.values())])
    for outcome, count in Counter(outcomes).items():
        metrics.EVENTS.labels(outcome).inc(count)
    return outcomes


def audit_partition_ensure(*, at: datetime.datetime) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT audit_partition_ensure(%s)", [at])
        return cursor.fetchone()[0]


def audit_partitions_ensure(*, months_ahead: int | None = None) -> list[str]:
    """This month's partition and the next ``AUDIT_PARTITIONS_AHEAD_MONTHS``, created if missing."""
    months_ahead = settings.AUDIT_PARTITIONS_AHEAD_MONTHS if months_ahead is None else months_ahead
    first = timezone.now().astimezone(datetime.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    names = []
    for month in range(months_ahead + 1):
        year, index = divmod(first.month - 1 + month, 12)
        names.append(audit_partition_ensure(at=first.replace(year=first.year + year, month=index + 1)))
    return names


def _heads_hash(heads: dict[str, list]) -> str:
    return hashlib.sha256(json.dumps(heads, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def audit_seal(*, at: datetime.datetime | None = None) -> Seal:
    """Seal the head of every chain now: a row (chained to the seal before it), a log line, a metric."""
    at = at or timezone.now()
    with transaction.atomic():
        # The heads locked for a moment: no chain moves while they are read.
        heads = {str(h.user_id): [h.seq, h.hash] for h in ChainHead.objects.select_for_update().order_by("user_id")}
        previous = Seal.objects.order_by("-sealed_at").first()
        previous_hash = previous.seal_hash if previous else GENESIS_HASH
        heads_hash = _heads_hash(heads)
        seal = Seal.objects.create(sealed_at=at, heads=heads, heads_hash=heads_hash,
                                   previous_seal_hash=previous_hash,
                                   seal_hash=hashlib.sha256((previous_hash + heads_hash).encode()).hexdigest())
    logger.info("audit seal %s: %d chain(s), %d event(s), heads %s, seal %s", audit_time(at), len(heads),
                sum(seq for seq, _ in heads.values()), heads_hash, seal.seal_hash)
    metrics.LAST_SEAL.set(at.timestamp())
    return seal


def audit_seal_today() -> Seal | None:
    """Once a day (Korean day): seal if today has no seal yet."""
    today = timezone.localdate()
    start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    if Seal.objects.filter(sealed_at__gte=start).exists():
        return None
    return audit_seal()


@dataclasses.dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime.datetime
    upper: datetime.datetime


def audit_partitions() -> list[Partition]:
    """The store's month partitions, oldest first (their bounds read from the catalogue)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_auditevent'::regclass")
        found = []
        for name, bound in cursor.fetchall():  # FOR VALUES FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 ...')
            lower, upper = re.findall(r"'([^']+)'", bound)
            found.append(Partition(name, _timestamp(lower), _timestamp(upper)))
    return sorted(found, key=lambda p: p.lower)


def _timestamp(text: str) -> datetime.datetime:
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::timestamptz", [text])  # as PostgreSQL reads its own output
        return cursor.fetchone()[0]


def audit_retention(*, now: datetime.datetime | None = None) -> list[RetentionCut]:
    """Archive, then drop, every month partition whose events are all older than ``AUDIT_RETENTION_DAYS``
    (its upper bound at or before the cutoff): never a row younger than the setting, nor than
    ``RECORD_RETENTION_DAYS`` (the law's, which a shorter setting cannot undercut). The archive is
    written and read back (row count and sha256) before the partition goes."""
    days = max(settings.AUDIT_RETENTION_DAYS, settings.RECORD_RETENTION_DAYS)
    cutoff = (now or timezone.now()) - datetime.timedelta(days=days)
    cuts = []
    for partition in audit_partitions():
        if partition.upper > cutoff:
            break
        cuts.append(_archive_and_drop(partition))
    return cuts


def _archive_and_drop(partition: Partition) -> RetentionCut:
    from audit.models import AuditEvent

    directory = pathlib.Path(settings.AUDIT_ARCHIVE_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{partition.name}.jsonl.gz"
    rows = AuditEvent.objects.filter(occurred_at__gte=partition.lower, occurred_at__lt=partition.upper)
    heads: dict[str, list] = {}
    count = 0
    with gzip.open(path, "wt", encoding="utf-8") as archive:
        for row in rows.order_by("user_id", "seq").iterator(chunk_size=2_000):
            archive.write(json.dumps({
                "eventId": str(row.event_id), "userId": row.user_id, "seq": row.seq, "eventType": row.event_type,
                "occurredAt": audit_time(row.occurred_at), "receivedAt": audit_time(row.received_at),
                "kafka": [row.kafka_topic, row.kafka_partition, row.kafka_offset],
                "previousHash": row.previous_hash, "hash": row.hash, "event": row.payload,
            }, ensure_ascii=False, sort_keys=True) + "\n")
            heads[str(row.user_id)] = [row.seq, row.hash]
            count += 1
        archive.flush()
        os.fsync(archive.fileno())
    with gzip.open(path, "rt", encoding="utf-8") as archive:
        if sum(1 for _ in archive) != count:
            raise RuntimeError(f"archive {path} does not hold the {count} rows of {partition.name}: not dropped")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    with transaction.atomic(), connection.cursor() as cursor:
        cut = RetentionCut.objects.create(partition=partition.name, upper_bound=partition.upper, rows=count,
                                          archive=str(path), archive_sha256=digest, heads=heads,
                                          dropped_at=timezone.now())
        cursor.execute(f'ALTER TABLE audit_auditevent DETACH PARTITION "{partition.name}"')
        cursor.execute(f'DROP TABLE "{partition.name}"')
    logger.warning("audit retention: %s archived to %s (%d rows, sha256 %s) and dropped", partition.name, path,
                   count, digest)
    return cut
