"""Records parked on the DLT are kept once per DLT position."""

import pytest

from notifications import services
from notifications.models import DeadLetter

pytestmark = pytest.mark.django_db


def test_dead_letters_are_stored_once_per_dlt_position():
    headers = [(services.DLT_ORIGINAL_TOPIC, b"wallet-events"), (services.DLT_ORIGINAL_PARTITION, b"3"),
               (services.DLT_ORIGINAL_OFFSET, b"42"), (services.DLT_EXCEPTION_FQCN, b"x.Boom"),
               (services.DLT_EXCEPTION_MESSAGE, b"boom"), (services.DLT_ATTEMPTS, b"4"),
               (services.DLT_FAILED_AT, b"2026-11-29T00:00:00+00:00"), ("eventId", b"e-1")]
    for _ in range(2):
        services.dead_letter_store(topic="wallet-events.DLT", partition=0, offset=7, key=b"1", value=b"{}",
                                   headers=headers)
    letter = DeadLetter.objects.get()
    assert (letter.original_partition, letter.original_offset, letter.attempts) == (3, 42, 4)
    assert (letter.exception_type, letter.exception_message) == ("x.Boom", "boom")
    assert letter.headers["eventId"] == "e-1"
