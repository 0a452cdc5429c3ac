"""Request rates per user and per client address (DRF throttling, counted in Redis).

Each scope's rate is a setting (``API_*_PER_MINUTE``), read when a request is
checked. Over the rate: 429 ``throttled`` with ``Retry-After``. The address is the
client's as the trusted proxy reports it (``prepaid.http.client_address``), never the
proxy's own.
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from prepaid.http import client_address


class _RateThrottle(SimpleRateThrottle):
    setting: str  # the name of the setting that holds the rate, per minute

    def get_rate(self):
        return f"{getattr(settings, self.setting)}/min"


class _PerUser(_RateThrottle):
    def get_cache_key(self, request, view):
        if request.user is None or not request.user.is_authenticated:
            return None  # only authenticated views use these; the per-address ones still count
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class _PerAddress(_RateThrottle):
    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": client_address(request)}


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


WRITES = [WritesPerUser, WritesPerAddress]
STREAM_TOKENS = [StreamTokensPerUser, StreamTokensPerAddress]
