"""Request rates per user and per client address (DRF throttling, counted in Redis).

Each scope's rate is a setting (``API_*_PER_MINUTE``), read when a request is
checked. Over the rate: 429 ``throttled`` with ``Retry-After`` (the seconds until the
window ends). The address is the client's as the trusted proxy reports it
(``prepaid.http.client_address``), never the proxy's own.

A check is one round trip and constant work, however busy the key: one counter per
(scope, user or address) that the first request of a window creates with a one-minute
expiry, and every request increments (INCR, EXPIRE NX, PTTL in one MULTI). DRF's
``SimpleRateThrottle`` instead stores every request's time in one cache value and
rewrites it on each request, which grows with the rate (10,000 entries a minute from
one busy address) and cannot answer ``Retry-After`` once the rate is lowered below the
history it holds. Refused requests count too: a client that keeps knocking stays
refused until its window ends.

If Redis cannot be reached, requests are let through (logged): the rate protects the
service, and an outage of its counter should not stop money from moving.
"""

import logging
import threading

import redis
from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

from prepaid.http import client_address

logger = logging.getLogger(__name__)

WINDOW_S = 60  # the rates are per minute

_client: redis.Redis | None = None
_client_lock = threading.Lock()


def _redis() -> redis.Redis:
    global _client
    with _client_lock:
        if _client is None:
            _client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=settings.REDIS_TIMEOUT_S,
                                           socket_connect_timeout=settings.REDIS_TIMEOUT_S)
        return _client


def window_count(key: str, cost: int = 1) -> tuple[int, float]:
    """Count a request (``cost`` units of it) against ``key``'s window: (units counted in the window so far,
    seconds left in it)."""
    pipe = _redis().pipeline(transaction=True)
    pipe.incrby(key, cost)
    pipe.expire(key, WINDOW_S, nx=True)
    pipe.pttl(key)
    count, _, left_ms = pipe.execute()
    return count, max(left_ms, 0) / 1000


class _RateThrottle(BaseThrottle):
    scope: str
    setting: str  # the name of the setting that holds the rate, per minute

    def ident(self, request) -> str | None:
        raise NotImplementedError

    def cost(self, request) -> int:
        """How many units of the rate the request takes (a request: one)."""
        return 1

    def allow_request(self, request, view) -> bool:
        self.wait_s = None
        ident = self.ident(request)
        cost = self.cost(request)
        if ident is None or cost == 0:
            return True
        key = cache.make_key(f"throttle:{self.scope}:{ident}")  # the cache's prefix: tests run apart
        try:
            count, left_s = window_count(key, cost)
        except redis.RedisError as error:
            logger.warning("rate %s not checked, Redis unavailable: %s", self.scope, error)
            return True
        if count <= getattr(settings, self.setting):
            return True
        self.wait_s = max(left_s, 1.0)
        return False

    def wait(self) -> float | None:
        return self.wait_s


class _PerUser(_RateThrottle):
    def ident(self, request):
        if request.user is None or not request.user.is_authenticated:
            return None  # only authenticated views use these; the per-address ones still count
        return str(request.user.pk)


class _PerAddress(_RateThrottle):
    def ident(self, request):
        return client_address(request)


class WritesPerUser(_PerUser):
    scope = "writes-user"
    setting = "API_WRITES_PER_USER_PER_MINUTE"


class WritesPerAddress(_PerAddress):
    scope = "writes-address"
    setting = "API_WRITES_PER_ADDRESS_PER_MINUTE"


class StreamTokensPerUser(_PerUser):
    scope = "stream-tokens-user"
    setting = "API_STREAM_TOKENS_PER_USER_PER_MINUTE"


class StreamTokensPerAddress(_PerAddress):
    scope = "stream-tokens-address"
    setting = "API_STREAM_TOKENS_PER_ADDRESS_PER_MINUTE"


class RecipientLookupsPerUser(_PerUser):
    scope = "recipient-lookups-user"
    setting = "API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE"


def _batch_items(request) -> list:
    """A batch's items, as sent (a body that is not a batch counts as one item: validation refuses it)."""
    items = request.data.get("items") if isinstance(request.data, dict) else None
    return items[: settings.WALLET_BATCH_ITEMS_MAX + 1] if isinstance(items, list) else [None]


class BatchItemsPerUser(_PerUser):
    """A batch's operations, each a unit."""

    scope = "batch-items-user"
    setting = "API_BATCH_ITEMS_PER_USER_PER_MINUTE"

    def cost(self, request) -> int:
        return len(_batch_items(request))


class BatchTransfersPerUser(RecipientLookupsPerUser):
    """A batch's transfers among the recipient look-ups (the same counter): a batch enumerates no faster."""

    def cost(self, request) -> int:
        return sum(1 for item in _batch_items(request) if isinstance(item, dict) and item.get("type") == "transfer")


WRITES = [WritesPerUser, WritesPerAddress]
STREAM_TOKENS = [StreamTokensPerUser, StreamTokensPerAddress]
