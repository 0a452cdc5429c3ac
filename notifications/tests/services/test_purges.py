"""Old dedup rows, notifications and stored SSE events go, in bounded batches."""


import pytest

from notifications import services, sse
from notifications.models import ProcessedEvent
from tests.helpers import wallet_event

pytestmark = pytest.mark.django_db


def test_old_dedup_rows_are_purged_in_batches(user):
    from datetime import timedelta

    from django.utils import timezone

    for _ in range(3):
        services.notification_from_event(event=wallet_event(user.id))
    old = list(ProcessedEvent.objects.values_list("id", flat=True)[:2])
    ProcessedEvent.objects.filter(id__in=old).update(processed_at=timezone.now() - timedelta(days=31))
    assert services.processed_events_purge(batch_size=1) == 2
    assert ProcessedEvent.objects.count() == 1


def test_old_stored_sse_events_are_trimmed(user, settings):
    from datetime import timedelta

    from django.utils import timezone
    from django_eventstream.models import Event as StoredEvent

    sse.sse_events_store([(user.id, {"n": 1})])
    StoredEvent.objects.update(created=timezone.now() - timedelta(seconds=settings.SSE_EVENT_RETENTION_S + 1))
    sse.sse_events_store([(user.id, {"n": 2})])
    assert services.sse_events_trim() == 2  # the placeholder and the old event
    assert StoredEvent.objects.count() == 1


def test_old_notifications_are_purged_in_batches(user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from notifications.models import Notification

    for _ in range(3):
        services.notification_from_event(event=wallet_event(user.id))
    old = list(Notification.objects.order_by("id").values_list("id", flat=True)[:2])
    Notification.objects.filter(id__in=old).update(
        created_at=timezone.now() - timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS, minutes=1))
    assert services.notifications_purge(batch_size=1) == 2
    (kept,) = Notification.objects.values_list("id", flat=True)
    assert kept not in old


@pytest.mark.parametrize(("table", "time_column", "purge"), [
    ("notifications_notification", "created_at", lambda: services.notifications_purge(batch_size=5)),
    ("notifications_processedevent", "processed_at", lambda: services.processed_events_purge(batch_size=5)),
])
def test_a_purge_batch_reads_its_batch_through_the_time_index(user, table, time_column, purge):
    """Among 20,000 young rows, the purge's batches find the 12 old ones through an index on their time."""
    from django.db import connection

    from tests.plans import assert_reads_at_most

    with connection.cursor() as cursor:
        if table == "notifications_notification":
            cursor.execute(
                "INSERT INTO notifications_notification (user_id, event_id, event_type, title, message, type,"
                " created_at) SELECT %s, gen_random_uuid(), 'SPEND_COMPLETED', 't', 'm', 'info',"
                " now() - CASE WHEN i <= 12 THEN interval '10 years' ELSE interval '1 second' END"
                " FROM generate_series(1, 20000) AS i", [user.id])
        else:
            cursor.execute(
                "INSERT INTO notifications_processedevent (consumer, event_id, processed_at)"
                " SELECT 'notifications', gen_random_uuid(),"
                " now() - CASE WHEN i <= 12 THEN interval '10 years' ELSE interval '1 second' END"
                " FROM generate_series(1, 20000) AS i")
        cursor.execute(f"ANALYZE {table}")
    assert_reads_at_most(purge, 100)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE {time_column} < now() - interval '1 year'")
        assert cursor.fetchone()[0] == 0
