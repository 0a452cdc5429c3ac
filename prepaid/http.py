"""What the web layer needs to know about a request's origin."""

import ipaddress

from django.conf import settings


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_address(request) -> str:
    """The address of the client that made the request.

    Behind a proxy (the front proxy, and Pushpin after it for ``/events/``) every request comes
    from a proxy's address; the client's is the one the front proxy wrote to ``X-Forwarded-For``.
    That header is believed only when the request comes from a trusted proxy (``TRUSTED_PROXY_ADDRESSES``), and then
    only its last entry that is not itself a trusted proxy: what a client writes there
    itself is dropped by the front proxy (``proxy_set_header X-Forwarded-For $remote_addr``).
    """
    remote = _address(request.META.get("REMOTE_ADDR", "")) or ""
    if remote not in settings.TRUSTED_PROXY_ADDRESSES:
        return remote
    for entry in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = _address(entry)
        if address is None:
            break  # not an address: nothing before it can be trusted either
        if address not in settings.TRUSTED_PROXY_ADDRESSES:
            return address
    return remote
