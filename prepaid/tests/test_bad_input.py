"""Bad input anywhere is a 4xx with a code (and a message naming what is wrong), never a 500,
never a partial write: bodies too large or nested too deeply, odd numbers and bytes, query
strings, the SSE endpoint's positions, the admin."""

import json
import time
import uuid

import jwt
import pytest
from django.conf import settings

from tests.helpers import CHARGES, REVERSALS, SPENDS, api_token, charge, ledger_snapshot

pytestmark = pytest.mark.django_db

WRITES = [CHARGES, SPENDS, REVERSALS, "/api/v1/notifications/read", "/api/v1/auth/tokens"]


def post_raw(client, path: str, body: str | bytes, content_type: str = "application/json"):
    return client.generic("POST", path, body, content_type=content_type, HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()))


@pytest.mark.parametrize("path", WRITES)
def test_a_body_over_the_upload_limit_is_413_and_writes_nothing(api, user, path):
    charge(user)
    before = ledger_snapshot()
    body = '{"amount": 1, "description": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}'
    r = post_raw(api, path, body)
    assert (r.status_code, r.json()["code"]) == (413, "request_too_large")
    assert "body" in r.json()["message"]
    assert ledger_snapshot() == before


@pytest.mark.parametrize("path", WRITES)
def test_json_nested_too_deeply_is_400_and_writes_nothing(api, user, path):
    before = ledger_snapshot()
    r = post_raw(api, path, "[" * 100_000 + "]" * 100_000)
    assert (r.status_code, r.json()["code"]) == (400, "malformed_request")
    r = post_raw(api, path, '{"amount": ' + "[" * 100_000 + "]" * 100_000 + "}")
    assert (r.status_code, r.json()["code"]) == (400, "malformed_request")
    assert ledger_snapshot() == before


@pytest.mark.parametrize(("body", "code"), [
    ('{"amount": ' + "9" * 5000 + ', "description": "x"}', "malformed_request"),  # more digits than Python reads
    ('{"amount": NaN, "description": "x"}', "malformed_request"),
    ('{"amount": 1e999999, "description": "x"}', "invalid_input"),
    (b'\xff\xfe{"amount": 1}', "malformed_request"),
    ('{"amount": 1, "description": "nul \\u0000 byte"}', "invalid_input"),
    ('{"amount": 1, "description": "lone \\ud800 surrogate"}', "invalid_input"),
    ('{"amount": 1, "description": "x"', "malformed_request"),
    ("", "invalid_input"),
])
def test_odd_numbers_and_bytes_are_refused_with_a_code(api, user, body, code):
    charge(user)
    before = ledger_snapshot()
    r = post_raw(api, SPENDS, body)
    assert (r.status_code, r.json()["code"]) == (400, code)
    assert ledger_snapshot() == before


def test_other_media_types_methods_and_accepts_are_4xx_with_a_code(api):
    r = post_raw(api, SPENDS, "a=1", "application/x-www-form-urlencoded")
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")
    r = api.put(SPENDS, {}, format="json")
    assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")
    r = api.get("/api/v1/wallet", HTTP_ACCEPT="application/xml")
    assert (r.status_code, r.json()["code"]) == (406, "not_acceptable")


@pytest.mark.parametrize("path", ["/api/v1/wallet/transactions", "/api/v1/notifications"])
@pytest.mark.parametrize(("query", "field"), [
    ("pageSize=abc", "pageSize"), ("pageSize=0", "pageSize"), ("pageSize=-1", "pageSize"),
    ("pageSize=1e3", "pageSize"), ("pageSize=" + "9" * 50, "pageSize"), ("pageSize=%D9%A3", "pageSize"),
    ("cursor=not-a-cursor", "cursor"), ("cursor=%00", "cursor"),
])
def test_list_query_strings_are_checked_naming_the_parameter(api, path, query, field):
    r = api.get(f"{path}?{query}")
    assert (r.status_code, r.json()["code"]) == (400, "invalid_input")
    assert r.json()["message"].startswith(f"{field}:")


def test_a_valid_page_size_and_cursor_work(api, user):
    for amount in (1_000, 2_000, 3_000):
        charge(user, amount)
    first = api.get("/api/v1/wallet/transactions?pageSize=2").json()
    assert len(first["results"]) == 2 and first["next"]
    second = api.get(first["next"]).json()
    assert [t["amount"] for t in second["results"]] == [1_000]


def via_pushpin() -> dict:
    return {"HTTP_GRIP_SIG": jwt.encode({"iss": "pushpin", "exp": int(time.time()) + 60}, settings.GRIP_KEY)}


@pytest.mark.parametrize(("how", "value", "field"), [
    ("query", "{own}:abc", "lastEventId"), ("query", "{own}:-5", "lastEventId"),
    ("query", "{own}:" + "9" * 30, "lastEventId"), ("query", "a:b:c", "lastEventId"),
    ("query", "garbage", "lastEventId"), ("header", "{own}:1.5", "Last-Event-ID"),
    ("header", "{own}:\u0663", "Last-Event-ID"),
])
def test_a_subscribe_from_a_malformed_position_is_400_naming_it(client, user, how, value, field):
    from notifications.sse import user_channel

    client.force_login(user)
    value = value.format(own=user_channel(user.id))
    if how == "query":
        r = client.get("/events/", {"lastEventId": value}, **via_pushpin())
    else:
        r = client.get("/events/", HTTP_LAST_EVENT_ID=value.encode().decode("latin-1"), **via_pushpin())
    assert r.status_code == 400, r.content
    assert r.json()["code"] == "invalid_input" and r.json()["message"].startswith(f"{field}:")


def test_a_subscribe_from_a_valid_or_foreign_position_works(client, user):
    from notifications.sse import user_channel

    client.force_login(user)
    for value in (f"{user_channel(user.id)}:0", f"{user_channel(user.id)}:7", "user-1-someone-else:3"):
        r = client.get("/events/", {"lastEventId": value}, **via_pushpin())
        assert r.status_code == 200 and r["Grip-Hold"] == "stream"


def test_the_admin_refuses_oversized_posts_and_strangers_without_a_500(client, user):
    r = client.post("/admin/login/", {"username": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1), "password": "y"})
    assert r.status_code == 400
    fields = {f"f{i}": "1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1)}
    assert client.post("/admin/login/", fields).status_code == 400
    client.force_login(user)  # not staff
    r = client.get("/admin/")
    assert r.status_code == 302 and "/admin/login/" in r["Location"]


@pytest.mark.e2e
def test_through_the_front_proxy_oversized_headers_urls_and_bodies_are_4xx_with_a_code(web, user):
    import httpx

    platform = web()
    headers = {"Authorization": f"Token {api_token(user)}", "Idempotency-Key": str(uuid.uuid4()),
               "Content-Type": "application/json"}
    with httpx.Client(base_url=platform.base_url, headers=headers, timeout=30) as client:
        r = client.post(SPENDS, content='{"amount": 1, "description": "' + "x" * 3_000_000 + '"}')
        assert (r.status_code, r.json()["code"]) == (413, "request_too_large")  # Django's limit
        r = client.post(SPENDS, content='{"amount": 1, "description": "' + "x" * 5_000_000 + '"}')
        assert (r.status_code, r.json()["code"]) == (413, "request_too_large")  # the front proxy's
        r = client.post(SPENDS, content="[" * 100_000 + "]" * 100_000)
        assert (r.status_code, r.json()["code"]) == (400, "malformed_request")
        # A header up to 8 KiB is served (a browser's long cookies); a larger one, or a longer URL, is
        # answered by the front proxy, never reaching Django, in the API's own form.
        assert client.get("/api/v1/wallet", headers={"X-Long": "h" * 7_000}).status_code == 200
        r = client.get("/api/v1/wallet", headers={"X-Huge": "h" * 100_000})
        assert (r.status_code, r.json()["code"]) == (400, "request_headers_too_large")
        status, body = raw_answer(platform.base_url, "GET /api/v1/wallet?q=" + "x" * 100_000)  # httpx refuses it
        assert (status, json.loads(body)["code"]) == ("HTTP/1.1 414 Request-URI Too Large", "request_uri_too_long")
        assert client.get("/api/v1/wallet").status_code == 200  # and it still serves


@pytest.mark.e2e
def test_while_the_database_is_unreachable_the_api_answers_503_with_retry_after_never_500(web, user):
    """A restart or failover of PostgreSQL: a client is told to send the same request again, not that the
    server broke (nothing was written: every write is one transaction)."""
    import httpx

    from tests.support import free_port

    token = api_token(user)
    platform = web(DATABASE_URL=f"postgres://prepaid@127.0.0.1:{free_port()}/prepaid")  # nothing listens there
    headers = {"Authorization": f"Token {token}", "Idempotency-Key": str(uuid.uuid4())}
    with httpx.Client(base_url=platform.base_url, headers=headers, timeout=30) as client:
        for method, path, body in (("POST", SPENDS, {"amount": 1, "description": "x"}),
                                   ("GET", "/api/v1/wallet", None), ("GET", "/api/v1/notifications", None)):
            r = client.request(method, path, json=body)
            assert (r.status_code, r.json()["code"]) == (503, "service_unavailable"), r.text
            assert r.headers["Retry-After"] == str(settings.API_UNAVAILABLE_RETRY_AFTER_S)
            assert "같은 Idempotency-Key" in r.json()["message"]
        # The SSE endpoint (a plain Django view, through Pushpin) too: a browser's page tries again.
        r = client.get("/events/")
        assert (r.status_code, r.json()["code"]) == (503, "service_unavailable"), r.text


def raw_answer(base_url: str, request_line: str) -> tuple[str, str]:
    """Send a request line as is (clients refuse to build some); the answer's status line and body."""
    import socket
    from urllib.parse import urlsplit

    where = urlsplit(base_url)
    with socket.create_connection((where.hostname, where.port), timeout=10) as sock:
        sock.sendall(f"{request_line} HTTP/1.1\r\nHost: {where.hostname}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.decode().partition("\r\n\r\n")
    return head.split("\r\n", 1)[0], body
