"""The web process dies between an operation's commit and its response: the client's retry is answered
with the committed result, and nothing happens twice."""

import uuid

import httpx
import pytest

from tests.helpers import SPENDS, api_token, assert_ledger_consistent, balance_of, charge
from tests.middleware import CRASH_HEADER
from wallets.models import Operation

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_web_process_killed_between_commit_and_response_replays_the_committed_result(platform, user):
    charge(user, 10_000)
    token = api_token(user)
    body, key = {"amount": 2_500, "description": "the response is lost"}, str(uuid.uuid4())
    with httpx.Client(base_url=platform.base_url, headers={"Authorization": f"Token {token}"},
                      timeout=30) as client:
        # The worker dies with the answer in hand: Pushpin, in front of it, answers for it.
        lost = client.post(SPENDS, json=body, headers={"Idempotency-Key": key, CRASH_HEADER: "1"})
        assert lost.status_code == 502, lost.text
        (spend,) = Operation.objects.filter(user=user, kind="SPEND")  # it had committed
        assert platform.web.alive()  # gunicorn's master replaces the worker

        retried = client.post(SPENDS, json=body, headers={"Idempotency-Key": key})
    assert retried.status_code == 201, retried.text
    assert retried.headers["Idempotent-Replayed"] == "true"
    assert (retried.json()["transactionId"], retried.json()["newBalance"]) == (str(spend.id), 7_500)
    assert Operation.objects.filter(user=user, kind="SPEND").count() == 1
    assert balance_of(user.id) == 7_500
    assert_ledger_consistent(user.id)
