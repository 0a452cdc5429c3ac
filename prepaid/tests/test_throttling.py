"""Request rates per user and per client address; the client's address behind the proxy."""

import ipaddress
import random

import pytest
from django.test import RequestFactory

from prepaid.http import client_address
from tests.helpers import SPENDS, api_post, balance_of, charge


def random_address() -> str:
    """An address no other test uses (the documentation prefix, 96 random bits): its own rate counts."""
    return str(ipaddress.IPv6Address((0x20010DB8 << 96) | random.getrandbits(96)))


@pytest.mark.parametrize(("remote", "forwarded", "expected"), [
    ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # from the proxy: the client it names
    ("127.0.0.1", "10.9.9.9, 203.0.113.7", "203.0.113.7"),  # the proxy's entry is the last one
    ("127.0.0.1", "203.0.113.7, 127.0.0.1", "203.0.113.7"),  # trusted proxies are skipped
    ("127.0.0.1", "", "127.0.0.1"),  # the proxy itself, or a local client
    ("127.0.0.1", "not-an-address", "127.0.0.1"),
    ("127.0.0.1", "203.0.113.9, junk, 203.0.113.7", "203.0.113.7"),
    ("203.0.113.50", "198.51.100.1", "203.0.113.50"),  # not from a proxy: its header is ignored
    ("::1", "2001:db8::1", "2001:db8::1"),
])
def test_the_client_address_is_the_one_the_trusted_proxy_reports(remote, forwarded, expected):
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


@pytest.mark.django_db
def test_writes_over_the_users_rate_get_429_with_retry_after_and_change_nothing(api, user, settings):
    settings.API_WRITES_PER_USER_PER_MINUTE = 3
    charge(user, 10_000)
    answers = [api_post(api, SPENDS, {"amount": 100, "description": f"s{i}"}, REMOTE_ADDR=random_address())
               for i in range(4)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429]
    assert answers[3].json()["code"] == "throttled"
    assert 0 < int(answers[3]["Retry-After"]) <= 60
    assert balance_of(user.id) == 10_000 - 300  # the refused one wrote nothing
    assert api.get("/api/v1/wallet").status_code == 200  # reads are not writes


@pytest.mark.django_db
def test_writes_from_one_address_are_limited_across_users(api_client_for, user_factory, settings):
    settings.API_WRITES_PER_ADDRESS_PER_MINUTE = 2
    address = random_address()
    codes = []
    for _ in range(3):
        user = user_factory()
        charge(user, 1_000)
        codes.append(api_post(api_client_for(user), SPENDS, {"amount": 1, "description": "x"},
                              REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=address).status_code)
    assert codes == [201, 201, 429]
    # Another client behind the same proxy has its own count.
    other = user_factory()
    charge(other, 1_000)
    assert api_post(api_client_for(other), SPENDS, {"amount": 1, "description": "x"},
                    REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=random_address()).status_code == 201


@pytest.mark.django_db
def test_a_client_cannot_escape_its_address_rate_by_forging_x_forwarded_for(api_client_for, user_factory, settings):
    settings.API_WRITES_PER_ADDRESS_PER_MINUTE = 2
    address = random_address()  # the client connects directly (no proxy) from here
    codes = []
    for _ in range(3):
        user = user_factory()
        charge(user, 1_000)
        codes.append(api_post(api_client_for(user), SPENDS, {"amount": 1, "description": "x"},
                              REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=random_address()).status_code)
    assert codes == [201, 201, 429]


@pytest.mark.django_db
def test_stream_tokens_are_limited_per_user(api, settings):
    settings.API_STREAM_TOKENS_PER_USER_PER_MINUTE = 2
    codes = [api.post("/api/v1/notifications/stream-token", REMOTE_ADDR=random_address()).status_code
             for _ in range(3)]
    assert codes == [201, 201, 429]


@pytest.mark.django_db
def test_a_rate_lowered_below_what_the_window_holds_still_answers_retry_after(api, settings):
    # DRF's history throttle returned no wait (no Retry-After) once it held more requests than the new rate.
    address = random_address()
    settings.API_STREAM_TOKENS_PER_USER_PER_MINUTE = 1_000_000
    for _ in range(4):
        assert api.post("/api/v1/notifications/stream-token", REMOTE_ADDR=address).status_code == 201
    settings.API_STREAM_TOKENS_PER_USER_PER_MINUTE = 2
    refused = api.post("/api/v1/notifications/stream-token", REMOTE_ADDR=address)
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 60


@pytest.mark.django_db
def test_refused_requests_count_and_the_window_ends_when_its_minute_is_up(api, user, settings):
    from django.core.cache import cache

    from prepaid import throttling

    settings.API_STREAM_TOKENS_PER_USER_PER_MINUTE = 1
    codes = [api.post("/api/v1/notifications/stream-token", REMOTE_ADDR=random_address()).status_code
             for _ in range(3)]
    assert codes == [201, 429, 429]
    key = cache.make_key(f"throttle:stream-tokens-user:{user.pk}")
    assert throttling._redis().get(key) == b"3"
    assert 0 < throttling._redis().pttl(key) <= throttling.WINDOW_S * 1000  # the first request's minute
    throttling._redis().delete(key)  # the minute is up
    assert api.post("/api/v1/notifications/stream-token", REMOTE_ADDR=random_address()).status_code == 201


@pytest.mark.django_db
def test_without_redis_requests_are_let_through(api, settings, monkeypatch):
    from prepaid import throttling

    settings.REDIS_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing answers
    monkeypatch.setattr(throttling, "_client", None)
    settings.API_STREAM_TOKENS_PER_USER_PER_MINUTE = 1
    codes = [api.post("/api/v1/notifications/stream-token", REMOTE_ADDR=random_address()).status_code
             for _ in range(2)]
    assert codes == [201, 201]


@pytest.mark.e2e
def test_through_the_front_proxy_a_forged_x_forwarded_for_does_not_change_the_clients_address(web, user_factory):
    # The front proxy replaces the header with the address it saw (deploy/nginx/nginx.conf).
    import httpx

    from tests.helpers import api_token

    platform = web(API_STREAM_TOKENS_PER_ADDRESS_PER_MINUTE="2")
    codes = []
    for _ in range(3):  # three users, each claiming another address
        headers = {"Authorization": f"Token {api_token(user_factory())}", "X-Forwarded-For": random_address()}
        response = httpx.post(f"{platform.base_url}/api/v1/notifications/stream-token", headers=headers, timeout=10)
        codes.append(response.status_code)
        if response.status_code == 429:
            assert response.json()["code"] == "throttled" and response.headers["Retry-After"]
            break
    assert codes[-1] == 429, codes  # one address (this machine's) for all of them
