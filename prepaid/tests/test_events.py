"""The event contract (prepaid/events.py): its schema, and records that are not wallet events."""

import json

import jsonschema
import pytest

from prepaid.events import SCHEMA_PATH, EventType, InvalidEvent, event_parse
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
