"""The API's OpenAPI description: the error body, the answers each operation can give, the
headers of the idempotency protocol and of throttling, the token scheme, and what
drf-spectacular cannot see (closed request bodies, the links between operations).

One error body, ``Error`` (code, message, fields), for every error answer, with one enum of
every code (as Stripe's one ``error`` object: a generated client has one error type, not one
per operation and status). An operation documents its answers with ``errors(name, *codes)``:
one response per HTTP status, whose description names the codes it can carry, and whose
``x-error-codes`` lists them (the ``document_error_codes`` hook). ``schemathesis`` checks every
answer against the schema and its code against ``x-error-codes``
(``prepaid/tests/test_api_contract.py``, ``tests/schemathesis_hooks.py``).
"""

import re
from collections import defaultdict

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema_serializer
from rest_framework import serializers

from prepaid.errors import REPLAYED_HEADER, CommonErrorCode, ErrorCode

C = CommonErrorCode
# Any authenticated operation.
AUTHENTICATION = (C.NOT_AUTHENTICATED, C.AUTHENTICATION_FAILED, C.NOT_ACCEPTABLE)
# Any operation that reads a JSON body. 403: a browser session's request without its CSRF token.
BODY = (C.INVALID_INPUT, C.MALFORMED_REQUEST, C.PERMISSION_DENIED, C.REQUEST_TOO_LARGE, C.UNSUPPORTED_MEDIA_TYPE)
# Any operation with a rate (prepaid/throttling.py).
THROTTLED = (C.THROTTLED,)
# A cursor-paginated list.
PAGE = (C.INVALID_INPUT,)

_STATUS_TEXT = {400: "Bad request", 401: "Not authenticated", 402: "Payment declined", 403: "Forbidden",
                404: "Not found", 406: "Not acceptable", 409: "Conflict", 413: "Request too large",
                415: "Unsupported media type", 422: "Unprocessable", 429: "Too many requests",
                503: "Service unavailable"}


@extend_schema_serializer(component_name="Error")
class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Machine-readable and stable: branch on it.")
    message = serializers.CharField(help_text="For people; starts with the field or header it is about.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False,
        help_text="Each offending field (as the client named it) and its messages; only for field errors.")


# The answers a repeated Idempotency-Key replays: the operation's, or the domain's refusal of it.
REPLAYABLE_STATUSES = [201, 402, 404, 409, 422]

RETRY_AFTER = OpenApiParameter(
    "Retry-After", int, OpenApiParameter.HEADER, response=[429],
    description="Seconds to wait before the next request is accepted.")


def errors(name: str, *codes: ErrorCode) -> dict[int, OpenApiResponse]:
    """The error answers of operation ``name``, one per status: the error body, and the codes it can carry."""
    by_status: dict[int, list[str]] = defaultdict(list)
    for code in codes:
        if str(code) not in by_status[code.http_status]:
            by_status[code.http_status].append(str(code))
    return {
        status: OpenApiResponse(ErrorSerializer, description=f"{_STATUS_TEXT.get(status, 'Error')} ({name}): "
                                                             + ", ".join(f"`{code}`" for code in status_codes))
        for status, status_codes in sorted(by_status.items())
    }


_DOCUMENTED_CODE = re.compile(r"`([a-z_]+)`")


def _every_error_code() -> list[str]:
    found, classes = set(), [ErrorCode]
    while classes:  # every app's ErrorCode subclass (each app's apis module is imported by the URLconf)
        cls = classes.pop()
        classes += cls.__subclasses__()
        found.update(str(code) for code in cls)
    return sorted(found)


def document_error_codes(result, generator, request, public):
    """drf-spectacular hook: each error answer lists its codes (``x-error-codes``, from ``errors()``),
    and the one ``Error`` body enumerates every code there is."""
    for path in result.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if int(status) >= 400:
                    response["x-error-codes"] = _DOCUMENTED_CODE.findall(response.get("description", ""))
    error = result["components"]["schemas"]["Error"]
    error["properties"]["code"] = {**error["properties"]["code"], "enum": _every_error_code()}
    return result


def idempotency_parameters() -> list[OpenApiParameter]:
    """The Idempotency-Key a write needs, and the header of an answer it replays."""
    return [
        OpenApiParameter(
            "Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
            pattern=rf"^[\x21-\x7e]{{1,{settings.IDEMPOTENCY_KEY_MAX_LENGTH}}}$",
            description="Unique per operation (e.g. a UUID): 1 to "
            f"{settings.IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters. The same key with the same body "
            "replays the first answer (`Idempotent-Replayed: true`); with another body: 422; while the first "
            f"request is still running: 409. Kept {settings.IDEMPOTENCY_KEY_TTL_S // 3600} h."),
        OpenApiParameter(
            REPLAYED_HEADER, str, OpenApiParameter.HEADER, enum=["true"], response=REPLAYABLE_STATUSES,
            description="Present on the answer of a repeated request: it is the first one's, replayed."),
    ]


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.TokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`Token <token>`: an API token (`manage.py create_api_token`, or "
                               "`POST /api/v1/auth/tokens`)."}


def _request_component_names(schema: dict) -> set[str]:
    names = set()
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for content in operation.get("requestBody", {}).get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                if ref.startswith("#/components/schemas/"):
                    names.add(ref.rsplit("/", 1)[1])
    return names


# Notices from third parties (payment webhooks): they may add fields at any time, and are read leniently.
OPEN_REQUEST_BODIES = frozenset({"TossWebhook"})


def _referenced(schema, components: dict) -> set[str]:
    """The components ``schema`` refers to, through its properties, items and alternatives."""
    found = set()
    if isinstance(schema, dict):
        ref = schema.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in schema.values():
            found |= _referenced(value, components)
    elif isinstance(schema, list):
        for value in schema:
            found |= _referenced(value, components)
    return found


def close_request_bodies(result, generator, request, public):
    """drf-spectacular hook: request bodies take no other fields than the ones described (the
    input serializers refuse unknown fields: a typo is an error, not ignored), nor do the objects
    inside them (a batch's items)."""
    components = result.get("components", {}).get("schemas", {})
    pending, closed = list(_request_component_names(result) - OPEN_REQUEST_BODIES), set()
    while pending:
        name = pending.pop()
        if name in closed or name not in components:
            continue
        closed.add(name)
        if components[name].get("type") == "object":
            components[name]["additionalProperties"] = False
        pending += _referenced(components[name], components) - closed
    return result


# Links between operations (OpenAPI links): a charge's, a spend's, a transfer's or a capture's transaction
# can be reversed (a transfer by its recipient: its sender is refused); a hold can be captured or voided.
_REVERSAL_LINK = {
    "operationId": "wallet_reversals_create",
    "requestBody": {"transactionId": "$response.body#/transactionId", "reason": "linked reversal"},
    "description": "Reverse (all of) this transaction.",
}


def link_operations(result, generator, request, public):
    """drf-spectacular hook: the links between operations (clients and stateful tests follow them)."""
    for path, operation_id in (("/api/v1/wallet/charges", "wallet_charges_create"),
                               ("/api/v1/wallet/spends", "wallet_spends_create"),
                               ("/api/v1/wallet/transfers", "wallet_transfers_create"),
                               ("/api/v1/wallet/holds/{hold_id}/captures", "wallet_holds_captures_create")):
        operation = result["paths"].get(path, {}).get("post")
        if operation and operation.get("operationId") == operation_id and "201" in operation["responses"]:
            operation["responses"]["201"]["links"] = {"ReverseTransaction": _REVERSAL_LINK}
    placed = result["paths"].get("/api/v1/wallet/holds", {}).get("post")
    if placed and "201" in placed["responses"]:
        hold = {"hold_id": "$response.body#/holdId"}
        placed["responses"]["201"]["links"] = {
            "CaptureHold": {"operationId": "wallet_holds_captures_create", "parameters": hold,
                            "requestBody": {"amount": 1}, "description": "Capture part of this hold."},
            "VoidHold": {"operationId": "wallet_holds_void_create", "parameters": hold,
                         "description": "Void this hold."},
        }
    return result
