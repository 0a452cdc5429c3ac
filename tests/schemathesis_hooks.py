"""Schemathesis hooks for the API contract test (prepaid/tests/test_api_contract.py), loaded through
``SCHEMATHESIS_HOOKS``.

Requests go through Pushpin, which takes a request head (its line and headers) of at most
``client_buffer_size`` (4 KiB, deploy/pushpin/pushpin.conf) and closes the connection on a
larger one before Django sees it (prepaid/tests/test_bad_input.py shows it). Generated cases
whose head could not fit are left out: they would test the proxy's limit, not the API.
"""

from urllib.parse import quote, urlencode

import schemathesis

HEAD_MAX_BYTES = 3_072  # 4 KiB less room for the headers the client adds (Host, Authorization, ...)


@schemathesis.hook
def filter_case(context, case) -> bool:
    path = quote(case.formatted_path, safe="/")
    query = urlencode(case.query or {}, doseq=True)
    headers = sum(len(str(name)) + len(str(value).encode()) + 4 for name, value in (case.headers or {}).items())
    return len(path) + len(query) + headers <= HEAD_MAX_BYTES
