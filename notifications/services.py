"""Turning wallet events into notifications; parking and replaying failed records."""

import dataclasses
import json
import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.selectors import user_languages
from accounts.services import operator_action_record
from notifications import channels, sse
from notifications.channels import slack
from notifications.models import DeadLetter, Notification, NotificationPreference, ProcessedEvent
from notifications.texts import render
from prepaid.db import delete_in_batches
from prepaid.errors import ApplicationError, CommonErrorCode, ErrorCode
from prepaid.kafka import kafka_producer

logger = logging.getLogger(__name__)

# Kafka headers on a record parked on the DLT (the names Spring Kafka uses, for familiar tooling).
DLT_ORIGINAL_TOPIC = "kafka_dlt-original-topic"
DLT_ORIGINAL_PARTITION = "kafka_dlt-original-partition"
DLT_ORIGINAL_OFFSET = "kafka_dlt-original-offset"
DLT_EXCEPTION_FQCN = "kafka_dlt-exception-fqcn"
DLT_EXCEPTION_MESSAGE = "kafka_dlt-exception-message"
DLT_ATTEMPTS = "kafka_dlt-attempts"
DLT_FAILED_AT = "kafka_dlt-failed-at"
DLT_CHANNEL = "kafka_dlt-channel"  # which channel parked it (none: the in-app consumer)
DLT_HEADERS = (DLT_CHANNEL, DLT_ORIGINAL_TOPIC, DLT_ORIGINAL_PARTITION, DLT_ORIGINAL_OFFSET, DLT_EXCEPTION_FQCN,
               DLT_EXCEPTION_MESSAGE, DLT_ATTEMPTS, DLT_FAILED_AT)


@dataclasses.dataclass(frozen=True)
class HandleResult:
    outcome: str  # "notified" or "duplicate"
    event_id: str
    user_id: int
    notification_id: int


def notification_from_event(*, event: dict) -> HandleResult:
    """Store the notification for an event once, and push it to the user's browsers."""
    return notifications_from_events(events=[event])[0]


def notifications_from_events(*, events: list[dict]) -> list[HandleResult]:
    """Store the notification for each event once, then push them to the users' browsers.

    The events (what one poll returned, each partition in order) are stored in
    one transaction: their dedup rows, notifications and stored SSE events
    commit together, so a redelivered event never makes a second
    notification. The live pushes happen after commit and are recorded; a
    redelivery of an event whose push was not recorded pushes it (and only it)
    again. If anything fails, nothing of the batch is stored.
    """
    event_ids = [uuid.UUID(event["eventId"]) for event in events]
    with transaction.atomic():
        new_ids = _processed_events_insert(event_ids)
        seen = {n.event_id: n for n in Notification.objects.select_for_update()
                .filter(event_id__in=set(event_ids) - new_ids)}
        created, outcomes = [], []
        languages = user_languages(user_ids={event["userId"] for event, event_id in zip(events, event_ids, strict=True)
                                             if event_id not in seen})
        for event, event_id in zip(events, event_ids, strict=True):
            if event_id in seen:
                outcomes.append((seen[event_id], "duplicate"))
            else:
                seen[event_id] = _notification_new(event, event_id, languages[event["userId"]])
                created.append(seen[event_id])
                outcomes.append((seen[event_id], "notified"))
        seqs = sse.sse_events_store([(n.user_id, _sse_data(n)) for n in created])
        for notification, stream_seq in zip(created, seqs, strict=True):
            notification.stream_seq = stream_seq
        Notification.objects.bulk_create(created)
    # Once each, however often the batch holds an event. Not pushed (Pushpin down): the
    # browsers read it from storage; a redelivery of the record pushes it again.
    to_push = {n.id: n for n, _outcome in outcomes if n.pushed_at is None}
    if to_push and sse.sse_events_publish([
        (n.user_id, n.stream_seq, json.dumps(_sse_data(n), ensure_ascii=False)) for n in to_push.values()
    ]):
        Notification.objects.filter(id__in=list(to_push)).update(pushed_at=timezone.now())
    return [HandleResult(outcome=outcome, event_id=str(n.event_id), user_id=n.user_id, notification_id=n.id)
            for n, outcome in outcomes]


def _notification_new(event: dict, event_id: uuid.UUID, language: str) -> Notification:
    """The notification of a new event, in its user's language; not saved, its SSE event not stored yet."""
    rendered = render(event, language)
    return Notification(
        user_id=event["userId"], event_id=event_id, event_type=event["eventType"], title=rendered.title,
        message=rendered.message, type=rendered.type, balance=event["newBalance"], created_at=timezone.now(),
    )


def _processed_events_insert(event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Record that this consumer handled the events; return the ones it had not handled before."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO notifications_processedevent (consumer, event_id, processed_at) "
            "SELECT %s, event_id, now() FROM unnest(%s::uuid[]) AS event_id "
            "ON CONFLICT (consumer, event_id) DO NOTHING RETURNING event_id",
            [settings.NOTIFICATIONS_CONSUMER_GROUP, list(dict.fromkeys(event_ids))],
        )
        return {row[0] for row in cursor.fetchall()}


def _sse_data(notification: Notification) -> dict:
    return {
        "eventId": str(notification.event_id),
        "eventType": notification.event_type,
        "title": notification.title,
        "message": notification.message,
        "type": notification.type,
        "balance": notification.balance,
        "createdAt": notification.created_at.isoformat(),
    }


def _header(headers: dict[str, str], name: str, cast=str):
    value = headers.get(name)
    if value in (None, ""):
        return None
    try:
        return cast(value)
    except ValueError:
        return None


def dead_letter_store(*, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None,
                      headers: list[tuple[str, bytes]]) -> tuple[DeadLetter, bool]:
    """Keep a record read from the DLT topic (idempotent: one row per DLT position)."""
    decoded = {name: (raw or b"").decode(errors="replace") for name, raw in headers}
    return DeadLetter.objects.get_or_create(
        dlt_topic=topic, dlt_partition=partition, dlt_offset=offset,
        defaults={
            "original_topic": decoded.get(DLT_ORIGINAL_TOPIC, ""),
            "original_partition": _header(decoded, DLT_ORIGINAL_PARTITION, int),
            "original_offset": _header(decoded, DLT_ORIGINAL_OFFSET, int),
            "key": (key or b"").decode(errors="replace"),
            "value": (value or b"").decode(errors="replace"),
            "headers": decoded,
            "exception_type": decoded.get(DLT_EXCEPTION_FQCN, "")[:255],
            "exception_message": decoded.get(DLT_EXCEPTION_MESSAGE, ""),
            "attempts": _header(decoded, DLT_ATTEMPTS, int) or 0,
            "failed_at": _header(decoded, DLT_FAILED_AT, _parse_time),
        },
    )


def _parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


class DeadLetterErrorCode(ErrorCode):
    DEAD_LETTER_NOT_FOUND = "dead_letter_not_found", 404
    DEAD_LETTER_DISCARDED = "dead_letter_discarded", 409
    DEAD_LETTER_NOT_OPEN = "dead_letter_not_open", 409


def dead_letter_replay(*, dead_letter: DeadLetter, by=None) -> DeadLetter:
    """Publish the original record again to its topic; the consumer dedups it if it was handled after all.
    A discarded one is not replayed. ``by``: the operator, recorded with the action."""
    if dead_letter.discarded_at:
        raise ApplicationError(DeadLetterErrorCode.DEAD_LETTER_DISCARDED,
                               "id: " + _("dead letter %(id)s was discarded (%(reason)s)") % {
                                   "id": dead_letter.id, "reason": dead_letter.discard_reason})
    headers = [(name, value.encode()) for name, value in dead_letter.headers.items() if name not in DLT_HEADERS]
    topic = dead_letter.original_topic or settings.KAFKA_TOPIC_WALLET_EVENTS
    future = kafka_producer().send(topic, key=dead_letter.key.encode() or None, value=dead_letter.value.encode(),
                                   headers=headers)
    sent = future.get(timeout=settings.NOTIFICATIONS_DLT_SEND_TIMEOUT_S)
    DeadLetter.objects.filter(id=dead_letter.id).update(replayed_at=timezone.now(), replay_count=F("replay_count") + 1)
    where = f"{sent.topic}[{sent.partition}]@{sent.offset}"
    logger.info("DLT record %s replayed to %s", dead_letter.id, where)
    operator_action_record(user=by, action="dead_letter_replay", target=f"dead_letter:{dead_letter.id}",
                           detail=f"to {where}")
    dead_letter.refresh_from_db()
    return dead_letter


def dead_letter_discard(*, dead_letter: DeadLetter, by, reason: str) -> DeadLetter:
    """Close an open dead letter without replaying it (a poison record, a test), saying why."""
    reason = reason.strip()
    if not 1 <= len(reason) <= 500:
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, "reason: " + _("say why, in 1 to 500 characters"),
                               fields={"reason": [_("Required, at most 500 characters.")]})
    discarded = DeadLetter.objects.filter(id=dead_letter.id, discarded_at=None, replayed_at=None).update(
        discarded_at=timezone.now(), discarded_by=by, discard_reason=reason)
    if not discarded:
        raise ApplicationError(DeadLetterErrorCode.DEAD_LETTER_NOT_OPEN,
                               "id: " + _("dead letter %(id)s was already replayed or discarded") % {
                                   "id": dead_letter.id})
    operator_action_record(user=by, action="dead_letter_discard", target=f"dead_letter:{dead_letter.id}",
                           detail=reason)
    dead_letter.refresh_from_db()
    return dead_letter


def processed_events_purge(*, older_than_days: int | None = None, batch_size: int | None = None) -> int:
    """Forget dedup rows older than any redelivery can be (Kafka retention, DLT replays), in bounded batches."""
    days = settings.NOTIFICATIONS_DEDUP_RETENTION_DAYS if older_than_days is None else older_than_days
    batch_size = batch_size or settings.NOTIFICATIONS_PURGE_BATCH_SIZE
    cutoff = timezone.now() - timedelta(days=days)
    return delete_in_batches(ProcessedEvent.objects.filter(processed_at__lt=cutoff), batch_size=batch_size)


def notifications_purge(*, older_than_days: int | None = None, batch_size: int | None = None) -> int:
    """Delete notifications older than NOTIFICATIONS_RETENTION_DAYS, in bounded batches (what they told of
    stays in the ledger and the audit store)."""
    days = settings.NOTIFICATIONS_RETENTION_DAYS if older_than_days is None else older_than_days
    cutoff = timezone.now() - timedelta(days=days)
    return delete_in_batches(Notification.objects.filter(created_at__lt=cutoff),
                             batch_size=batch_size or settings.NOTIFICATIONS_PURGE_BATCH_SIZE)


def sse_events_trim(*, batch_size: int | None = None) -> int:
    """Delete stored SSE events older than SSE_EVENT_RETENTION_S, in bounded batches."""
    from django_eventstream.models import Event as StoredEvent

    cutoff = timezone.now() - timedelta(seconds=settings.SSE_EVENT_RETENTION_S)
    return delete_in_batches(StoredEvent.objects.filter(created__lt=cutoff),
                             batch_size=batch_size or settings.NOTIFICATIONS_PURGE_BATCH_SIZE)


def notifications_mark_read(*, user_id: int, event_ids: list[uuid.UUID]) -> int:
    """Mark the user's notifications of these events read (once: a read one keeps its time); return how many."""
    return Notification.objects.filter(user_id=user_id, event_id__in=event_ids, read_at__isnull=True).update(
        read_at=timezone.now())


# --- Channels beyond the browser (notifications/channels: the registry) ----------------------


def channel_subscribers(*, channel: str, user_ids: set[int]) -> set[int]:
    """Which of these users have ``channel`` on (one query)."""
    enabled = {channels.channel_get(channel).enabled_field: True}
    return set(NotificationPreference.objects.filter(user_id__in=user_ids, **enabled)
               .values_list("user_id", flat=True))


def channel_deliver(*, channel: str, group_id: str, event: dict) -> str:
    """Deliver one event to one channel of its user, once: ``delivered``, ``duplicate`` (delivered
    before), ``skipped`` (the user does not want it there, or it has no address) or ``disabled``
    (the destination refused for good: the user's channel is switched off, with the reason).
    Raises what the channel raised otherwise (notifications.channels.base)."""
    sender = channels.channel_get(channel)
    event_id = uuid.UUID(event["eventId"])
    if ProcessedEvent.objects.filter(consumer=group_id, event_id=event_id).exists():
        return "duplicate"
    preference = (NotificationPreference.objects.select_related("user", "user__language_preference")
                  .filter(user_id=event["userId"]).first())
    if preference is None or not preference.wants(channel, event["eventType"]):
        return "skipped"
    address = sender.address(preference)
    if not address:
        return "skipped"
    try:
        chosen = getattr(preference.user, "language_preference", None)
        rendered = render(event, chosen.language if chosen else None)
        rendered = dataclasses.replace(rendered, title=sender.escape(rendered.title),
                                       message=sender.escape(rendered.message))
        sender.send(event_id=str(event_id), address=address, rendered=rendered)
    except channels.ChannelRejected as exc:
        off = {sender.enabled_field: False}
        if sender.disabled_reason_field:
            off[sender.disabled_reason_field] = str(exc)[:200]
        NotificationPreference.objects.filter(id=preference.id).update(**off)
        logger.warning("user %s: %s switched off (%s)", preference.user_id, sender.label, exc)
        return "disabled"
    ProcessedEvent.objects.bulk_create([ProcessedEvent(consumer=group_id, event_id=event_id)],
                                       ignore_conflicts=True)
    return "delivered"


def notification_preference_update(*, user, email_enabled: bool, email_event_types: list[str], slack_enabled: bool,
                                   slack_webhook_url: str | None, slack_event_types: list[str]
                                   ) -> NotificationPreference:
    """Save a user's channels. A Slack webhook URL must be one ``SLACK_WEBHOOK_URL_PREFIXES`` allows;
    ``None`` keeps the stored one (it is never shown back). Saving clears a disabled reason."""
    preference, _created = NotificationPreference.objects.get_or_create(user=user)
    url = preference.slack_webhook_url if slack_webhook_url is None else slack_webhook_url.strip()
    if url and (problem := slack.slack_url_problem(url)):
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, f"slack.webhookUrl: {problem}",
                               fields={"slack.webhookUrl": [problem]})
    if slack_enabled and not url:
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, "slack.webhookUrl: " + _("required to turn Slack on"),
                               fields={"slack.webhookUrl": [_("Required to turn Slack on.")]})
    if email_enabled and not user.email:
        raise ApplicationError(CommonErrorCode.INVALID_INPUT, "email.enabled: " + _("the account has no email address"),
                               fields={"email.enabled": [_("The account has no email address.")]})
    preference.email_enabled, preference.email_event_types = email_enabled, sorted(set(email_event_types))
    preference.slack_enabled, preference.slack_event_types = slack_enabled, sorted(set(slack_event_types))
    preference.slack_webhook_url, preference.slack_disabled_reason = url, ""
    preference.save()
    return preference
