"""Old dedup rows and stored SSE events go, in bounded batches."""


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
