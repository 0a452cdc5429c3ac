"""Bad input and refusals: a 4xx with a code and a message naming the field, nothing written."""

import uuid

import pytest

from tests.helpers import (
    CHARGES,
    REVERSALS,
    SPENDS,
    api_charge,
    api_post,
    ledger_snapshot,
)
from wallets.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


BAD_BODIES = [
    (SPENDS, {"amount": 1.5, "description": "x"}, "amount"),
    (SPENDS, {"amount": 100.0, "description": "x"}, "amount"),
    (SPENDS, {"amount": "100", "description": "x"}, "amount"),
    (SPENDS, {"amount": True, "description": "x"}, "amount"),
    (SPENDS, {"amount": 0, "description": "x"}, "amount"),
    (SPENDS, {"amount": -5, "description": "x"}, "amount"),
    (SPENDS, {"amount": 10_000_001, "description": "x"}, "amount"),
    (SPENDS, {"amount": None, "description": "x"}, "amount"),
    (SPENDS, {"description": "x"}, "amount"),
    (SPENDS, {"amount": 100}, "description"),
    (SPENDS, {"amount": 100, "description": "x" * 201}, "description"),
    (SPENDS, {"amount": 100, "description": 12}, "description"),
    (SPENDS, {"amount": 100, "description": "x", "ammount": 100}, "ammount"),
    (SPENDS, [1, 2], "nonFieldErrors"),
    (CHARGES, {"amount": 100, "paymentKey": "pk", "orderId": "bad id!"}, "orderId"),
    (CHARGES, {"amount": 100, "paymentKey": "pk", "orderId": "abc"}, "orderId"),
    (CHARGES, {"amount": 100, "paymentKey": "", "orderId": "order-123456"}, "paymentKey"),
    (CHARGES, {"amount": 100, "paymentKey": "p" * 201, "orderId": "order-123456"}, "paymentKey"),
    (CHARGES, {"amount": 100, "orderId": "order-123456"}, "paymentKey"),
    (CHARGES, {"amount": 1e3, "paymentKey": "pk", "orderId": "order-123456"}, "amount"),
    (REVERSALS, {"transactionId": "not-a-uuid", "reason": "x"}, "transactionId"),
    (REVERSALS, {"transactionId": 12345, "reason": "x"}, "transactionId"),
    (REVERSALS, {"transactionId": str(uuid.uuid4()), "reason": "x"}, "transactionId"),
    (REVERSALS, {"transactionId": str(uuid.uuid4()), "amount": 0, "reason": "x"}, "amount"),
    (REVERSALS, {"transactionId": str(uuid.uuid4())}, "reason"),
]


@pytest.mark.parametrize(("path", "body", "field"), BAD_BODIES)
def test_bad_input_is_a_4xx_naming_the_field_and_writes_nothing(api, path, body, field):
    api_charge(api, 50_000)
    before = ledger_snapshot()
    key = str(uuid.uuid4())
    r = api_post(api, path, body, key=key)
    assert 400 <= r.status_code < 500, r.content
    error = r.json()
    assert set(error) <= {"code", "message", "fields"}
    assert error["code"]
    assert field in error["message"]
    if "fields" in error:
        assert field in error["fields"]
    assert ledger_snapshot() == before
    # Invalid input (400) keeps no idempotency record: the client can fix the body and retry with the key.
    # A refusal of valid input (here: a transaction that does not exist) is an answer, kept and replayed.
    records = IdempotencyRecord.objects.filter(key=key)
    assert not records.exists() if r.status_code == 400 else records.get().error_code == error["code"]


def test_malformed_json_is_a_400(api):
    r = api.post(SPENDS, data="{not json", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-malformed")
    assert (r.status_code, r.json()["code"]) == (400, "malformed_request")


def test_form_encoded_body_is_unsupported(api):
    r = api.post(SPENDS, data={"amount": 1}, HTTP_IDEMPOTENCY_KEY="k-form")
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")


def test_idempotency_key_is_required_and_checked(api):
    r = api_post(api, SPENDS, {"amount": 1, "description": "x"}, key=False)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_missing")
    assert "Idempotency-Key" in r.json()["message"]
    r = api_post(api, SPENDS, {"amount": 1, "description": "x"}, key="has space")
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_invalid")
    r = api_post(api, SPENDS, {"amount": 1, "description": "x"}, key="k" * 256)
    assert (r.status_code, r.json()["code"]) == (400, "idempotency_key_invalid")


def test_insufficient_funds_names_the_amount(api):
    api_charge(api, 1_000)
    r = api_post(api, SPENDS, {"amount": 1_001, "description": "x"})
    assert (r.status_code, r.json()["code"]) == (409, "insufficient_funds")
    assert r.json()["message"].startswith("amount:")


def test_duplicate_order_is_a_409(api):
    assert api_charge(api, 1_000, orderId="order-twice").status_code == 201
    r = api_charge(api, 1_000, orderId="order-twice")
    assert (r.status_code, r.json()["code"]) == (409, "duplicate_order")
    assert "orderId" in r.json()["fields"]


def test_declined_payment_is_a_402(api, settings):
    settings.PAYMENT_SANDBOX_DECLINED_AMOUNTS = {4_040}
    r = api_charge(api, 4_040)
    assert (r.status_code, r.json()["code"]) == (402, "payment_declined")
