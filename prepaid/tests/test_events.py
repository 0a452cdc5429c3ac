"""The event contract (prepaid/events.py): its schema, and records that are not wallet events."""

import json
import uuid
from collections import Counter

import fastjsonschema
import jsonschema
import pytest

from prepaid.events import SCHEMA_PATH, EventType, InvalidEvent, event_parse, event_validate
from tests.helpers import wallet_event


@pytest.mark.parametrize("value", [b"{oops", b"[1, 2]", json.dumps({"eventType": "CHARGE_COMPLETED"}).encode(),
                                   json.dumps({**wallet_event(1), "eventType": "GIFT_COMPLETED"}).encode()])
def test_malformed_records_are_poison(value):
    with pytest.raises(InvalidEvent):
        event_parse(key=b"1", value=value)


def test_a_record_keyed_to_another_user_is_poison():
    with pytest.raises(InvalidEvent, match="key"):
        event_parse(key=b"2", value=json.dumps(wallet_event(1)).encode())


def test_schema_file_is_a_valid_json_schema():
    schema = json.loads(SCHEMA_PATH.read_text())
    jsonschema.validators.validator_for(schema).check_schema(schema)
    assert schema["properties"]["eventType"]["enum"] == [t.value for t in EventType]


def _one_of_each_type() -> list[dict]:
    base = wallet_event(1)
    common = {k: base[k] for k in ("schemaVersion", "eventId", "userId", "occurredAt", "metadata", "newBalance")}
    hold = {"holdId": str(uuid.uuid4()), "availableBalance": 40_000}
    return [
        base,
        {**common, "eventType": "SPEND_COMPLETED", "amount": 1_000, "description": "coffee"},
        {**common, "eventType": "REVERSAL_COMPLETED", "reversedAmount": 1_000, "reason": "mistake"},
        {**common, "eventType": "TRANSFER_SENT", "amount": 1_000, "message": "lunch", "counterparty": "minsu"},
        {**common, "eventType": "TRANSFER_RECEIVED", "amount": 1_000, "message": "lunch", "counterparty": "jiwoo"},
        {**common, **hold, "eventType": "HOLD_PLACED", "amount": 1_000, "description": "taxi",
         "expiresAt": "2026-01-20T11:00:00+09:00"},
        {**common, **hold, "eventType": "HOLD_CAPTURED", "amount": 700, "description": "taxi", "remaining": 0,
         "released": 300},
        {**common, **hold, "eventType": "HOLD_RELEASED", "releasedAmount": 1_000, "reason": "expired"},
    ]


def _variants(event: dict):
    yield event
    for key in event:  # each property missing
        yield {k: v for k, v in event.items() if k != key}
    for event_type in EventType:  # as each other type
        yield {**event, "eventType": event_type.value}
    for key, value in event.items():  # each property of the wrong type, negative, empty
        yield {**event, key: "x" if not isinstance(value, str) else 7}
        if isinstance(value, int):
            yield {**event, key: -1}
            yield {**event, key: 0}
        if isinstance(value, str):
            yield {**event, key: ""}
    yield {**event, "metadata": {"currency": "KRW"}}


def test_validation_by_event_type_accepts_exactly_what_the_whole_schema_accepts():
    """event_validate checks the common properties, then the one oneOf branch the eventType names: the
    same answers as the whole schema (oneOf: every branch tried), on every type and variants of each."""
    schema = json.loads(SCHEMA_PATH.read_text())
    named = [t for branch in schema["oneOf"] for t in branch["properties"]["eventType"].get(
        "enum", [branch["properties"]["eventType"].get("const")])]
    assert sorted(named) == sorted(t.value for t in EventType)  # each type in exactly one branch
    whole = fastjsonschema.compile(schema)
    answers = Counter()
    for event in _one_of_each_type():
        for variant in _variants(event):
            try:
                whole(variant)
                expected = True
            except fastjsonschema.JsonSchemaValueException:
                expected = False
            try:
                event_validate(variant)
                found = True
            except InvalidEvent:
                found = False
            assert found == expected, variant
            answers[found] += 1
    assert answers[True] >= 8 and answers[False] > 100, answers
