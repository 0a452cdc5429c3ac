"""The content security policy's other half: where browsers report what it blocked.

``POST /csp-report`` takes a browser's violation report (``application/csp-report``, or the
Reporting API's ``application/reports+json``), logs the directive and what was blocked (its
origin only: a URL may carry a secret) and counts it (``prepaid_csp_violations_total``). The
policy itself is in settings (``CONTENT_SECURITY_POLICY``), set on every response by
django-csp's middleware.
"""

import json
import logging
from urllib.parse import urlsplit

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from prometheus_client import Counter

logger = logging.getLogger(__name__)

CSP_VIOLATIONS = Counter("prepaid_csp_violations", "Content security policy violations browsers reported, by the "
                         "directive that blocked.", ["directive"])
REPORT_BYTES_MAX = 16_384


def _origin(uri: str) -> str:
    parts = urlsplit(uri or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else (uri or "")[:40]


def _violations(body: object) -> list[dict]:
    if isinstance(body, dict) and isinstance(body.get("csp-report"), dict):
        return [body["csp-report"]]
    if isinstance(body, list):  # the Reporting API: a list of reports
        return [r.get("body") for r in body if isinstance(r, dict) and isinstance(r.get("body"), dict)]
    return []


@csrf_exempt
@require_POST
def csp_report(request):
    try:
        body = json.loads(request.body[:REPORT_BYTES_MAX]) if len(request.body) <= REPORT_BYTES_MAX else None
    except ValueError:
        body = None
    for violation in _violations(body):
        directive = str(violation.get("effective-directive") or violation.get("effectiveDirective")
                        or violation.get("violated-directive") or "unknown").split(" ")[0][:40]
        blocked = str(violation.get("blocked-uri") or violation.get("blockedURL") or "")
        CSP_VIOLATIONS.labels(directive).inc()
        logger.warning("content security policy violation: %s blocked %s on %s", directive, _origin(blocked),
                       _origin(str(violation.get("document-uri") or violation.get("documentURL") or "")))
    return HttpResponse(status=204)
