"""Balances at a past moment and statements for a period (JSON, and CSV for a spreadsheet)."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from ledger.models import Posting
from tests.helpers import SPENDS, api_charge, api_post

pytestmark = pytest.mark.django_db

STATEMENT = "/api/v1/wallet/statement"


def _moments(user_id: int) -> list:
    return list(Posting.objects.filter(account__wallet__user_id=user_id).order_by("created_at", "id")
                .values_list("created_at", "balance_after"))


def test_the_balance_at_any_past_moment(api, user):
    assert api.get("/api/v1/wallet?asOf=2020-01-01T00:00:00Z").json()["balance"] == 0
    api_charge(api, 10_000)
    api_post(api, SPENDS, {"amount": 3_000, "description": "커피"})
    api_post(api, SPENDS, {"amount": 500, "description": "껌"})
    for at, balance in _moments(user.id):
        assert api.get("/api/v1/wallet", {"asOf": at.isoformat()}).json()["balance"] == balance
        just_before = (at - timedelta(microseconds=1)).isoformat()
        assert api.get("/api/v1/wallet", {"asOf": just_before}).json()["balance"] != balance
    answer = api.get("/api/v1/wallet?asOf=2999-01-01T00:00:00%2B09:00").json()
    assert (answer["balance"], answer["asOf"]) == (6_500, "2998-12-31T15:00:00Z")
    r = api.get("/api/v1/wallet?asOf=yesterday")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert "asOf" in r.json()["message"]


def test_a_statement_opens_lists_and_closes(api_client_for, user_factory):
    user, friend = user_factory(), user_factory()
    api = api_client_for(user)
    api_charge(api, 50_000)
    api_post(api, SPENDS, {"amount": 12_000, "description": "=HYPERLINK(\"x\")"})
    api_post(api, "/api/v1/wallet/transfers", {"to": friend.username, "amount": 8_000, "message": "점심"})
    (first, *_rest) = _moments(user.id)
    today = timezone.localdate()
    body = api.get(STATEMENT, {"from": today.isoformat(), "to": today.isoformat()}).json()
    assert (body["openingBalance"], body["closingBalance"], body["totalIn"], body["totalOut"]) == (
        0, 30_000, 50_000, 20_000)
    assert [(line["type"], line["direction"], line["amount"], line["balanceAfter"], line["counterparty"])
            for line in body["lines"]] == [("CHARGE", "in", 50_000, 50_000, None),
                                           ("SPEND", "out", 12_000, 38_000, None),
                                           ("TRANSFER", "out", 8_000, 30_000, friend.username)]
    # A period after it opens with its closing balance and lists nothing.
    later = (today + timedelta(days=1)).isoformat()
    body = api.get(STATEMENT, {"from": later, "to": later}).json()
    assert (body["openingBalance"], body["closingBalance"], body["lines"]) == (30_000, 30_000, [])
    # The friend's statement shows the same transfer coming in.
    body = api_client_for(friend).get(STATEMENT, {"from": today.isoformat(), "to": today.isoformat()}).json()
    assert [(line["type"], line["direction"], line["counterparty"]) for line in body["lines"]] == [
        ("TRANSFER", "in", user.username)]


def test_a_statement_as_csv_opens_in_a_spreadsheet(api, user):
    api_charge(api, 10_000)
    api_post(api, SPENDS, {"amount": 1_000, "description": "=SUM(A1:A9)"})
    today = timezone.localdate().isoformat()
    for response in (api.get(STATEMENT, {"from": today, "to": today}, HTTP_ACCEPT="text/csv"),
                     api.get(STATEMENT, {"from": today, "to": today, "format": "csv"})):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert f'filename="statement-{today}-{today}.csv"' in response["Content-Disposition"]
        raw = response.content
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads the Hangul as UTF-8
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0] == ["일시", "구분", "입출금", "금액", "잔액", "상대방", "내용", "거래 ID"]
        assert rows[1][1:5] == ["기초 잔액", "", "", "0"]
        assert [r[1:7] for r in rows[2:4]] == [["CHARGE", "입금", "10000", "10000", "", ""],
                                               ["SPEND", "출금", "1000", "9000", "", "'=SUM(A1:A9)"]]
        assert rows[4][1:5] == ["기말 잔액", "", "", "9000"]


def test_bad_periods_get_clear_errors(api):
    cases = [
        ({"to": "2026-12-01"}, "from"),
        ({"from": "2026-12-01"}, "to"),
        ({"from": "2026-12-31", "to": "2026-12-01"}, "to"),
        ({"from": "2024-01-01", "to": "2026-12-01"}, "to"),
        ({"from": "12/01/2026", "to": "2026-12-01"}, "from"),
        ({"from": "2026-12-01", "to": "2026-12-01", "page": "2"}, "page"),
    ]
    for query, field in cases:
        r = api.get(STATEMENT, query)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_input"), (query, r.json())
        assert field in r.json()["message"], (query, r.json())
    r = api.get(STATEMENT, {"from": "2026-12-01"}, HTTP_ACCEPT="text/csv")
    assert r.status_code == 400 and b"invalid_input" in r.content


def test_a_period_with_more_lines_than_a_statement_holds_is_refused(api, settings):
    settings.STATEMENT_LINES_MAX = 2
    api_charge(api, 10_000)
    api_post(api, SPENDS, {"amount": 1_000, "description": "a"})
    today = timezone.localdate().isoformat()
    assert api.get(STATEMENT, {"from": today, "to": today}).status_code == 200
    api_post(api, SPENDS, {"amount": 1_000, "description": "b"})
    r = api.get(STATEMENT, {"from": today, "to": today})
    assert (r.status_code, r.json()["code"]) == (422, "statement_too_long")
