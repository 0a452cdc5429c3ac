"""Schemathesis hooks for the API contract test (prepaid/tests/test_api_contract.py), loaded through
``SCHEMATHESIS_HOOKS``.

Requests go through the front proxy, which takes a request line or header of at most 8 KiB
(``large_client_header_buffers``, deploy/nginx/nginx.conf) and answers a larger one itself before
Django sees it (prepaid/tests/test_bad_input.py shows it); the cases kept stay under 4 KiB. Generated cases
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


@schemathesis.check
def error_code_documented(ctx, response, case):
    """An error answer's code is one its operation documents for that status (``x-error-codes``:
    the schema has one Error body for all, so its enum alone would let any code through)."""
    if response.status_code < 400 or response.status_code >= 500:
        return None
    documented = case.operation.definition.raw.get("responses", {}).get(str(response.status_code))
    if documented is None:
        return None  # a status the operation does not document (405 to TRACE): status_code_conformance's call
    try:
        code = response.json().get("code")
    except (ValueError, AttributeError):
        return None  # not a JSON object: content_type_conformance and the schema checks say so
    if code not in documented.get("x-error-codes", ()):
        raise AssertionError(f"{response.status_code} {code!r} is not among the codes documented for it: "
                             f"{documented.get('x-error-codes')}")
    return True
