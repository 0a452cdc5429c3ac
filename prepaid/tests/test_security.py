"""The content security policy on documents (not on the JSON API), and its report endpoint."""

import json
import logging

import pytest

pytestmark = pytest.mark.django_db


def test_pages_carry_the_policy_and_the_json_api_does_not(client, api):
    page = client.get("/accounts/login/")
    assert "default-src 'self'" in page["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "Content-Security-Policy" not in api.get("/api/v1/wallet")
    assert "Content-Security-Policy" not in client.get("/health/live")


def test_a_violation_report_is_logged_by_origin_and_answered_204(client, caplog):
    caplog.set_level(logging.WARNING, logger="prepaid.security")
    report = {"csp-report": {"effective-directive": "script-src", "document-uri": "https://pay.example/wallet",
                             "blocked-uri": "https://evil.example/steal.js?token=secret-123"}}
    answer = client.post("/csp-report", json.dumps(report), content_type="application/csp-report")
    assert answer.status_code == 204
    (logged,) = [r.getMessage() for r in caplog.records]
    assert "script-src blocked https://evil.example" in logged and "secret-123" not in logged
    assert client.post("/csp-report", "not json", content_type="application/csp-report").status_code == 204
    assert client.get("/csp-report").status_code == 405
