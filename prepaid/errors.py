"""One error type for expected failures, and one DRF handler for all errors.

Every error leaves the API as ``{"code": ..., "message": ..., "fields": {...}}``
with a 4xx status, so that clients can branch on ``code`` and show ``message``.
``fields`` maps each offending field (camelCase, as the client sent it) to its
messages; it is present only for field errors.

Each app declares its codes as an ``ErrorCode`` enum, and each code carries its
HTTP status there: one table, beside the codes. Services raise
``ApplicationError(code, message)`` and never choose a status.
"""

import enum
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

logger = logging.getLogger(__name__)

# On an answer replayed for a repeated Idempotency-Key.
REPLAYED_HEADER = "Idempotent-Replayed"


class ErrorCode(enum.StrEnum):
    """Base of each app's error codes: ``NAME = "code", http_status``."""

    http_status: int

    def __new__(cls, code: str, http_status: int):
        member = str.__new__(cls, code)
        member._value_ = code
        member.http_status = http_status
        return member


class CommonErrorCode(ErrorCode):
    """What any endpoint may answer, whatever it does."""

    INVALID_INPUT = "invalid_input", 400
    MALFORMED_REQUEST = "malformed_request", 400
    NOT_AUTHENTICATED = "not_authenticated", 401
    AUTHENTICATION_FAILED = "authentication_failed", 401
    PERMISSION_DENIED = "permission_denied", 403
    NOT_FOUND = "not_found", 404
    METHOD_NOT_ALLOWED = "method_not_allowed", 405
    NOT_ACCEPTABLE = "not_acceptable", 406
    REQUEST_TOO_LARGE = "request_too_large", 413
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type", 415
    THROTTLED = "throttled", 429
    INTERNAL_ERROR = "internal_error", 500
    SERVICE_UNAVAILABLE = "service_unavailable", 503


class ApplicationError(Exception):
    """An expected failure of a service: a rule of the domain said no.

    ``code`` is machine-readable and stable (its HTTP status comes with it);
    ``message`` is for people and starts with the field it is about. ``replayed``:
    this is the recorded answer of an earlier identical request (Idempotency-Key).
    """

    def __init__(self, code: ErrorCode, message: str, *, fields: dict | None = None, replayed: bool = False):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields
        self.replayed = replayed

    @property
    def http_status(self) -> int:
        return self.code.http_status


def error_body(code: str, message: str, fields: dict | None = None) -> dict:
    body = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    return body


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "field.sub": [messages]}."""
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            # A list field's errors come as {index: messages}: named like list items, field[index].
            name = key if not prefix else f"{prefix}[{key}]" if isinstance(key, int) else f"{prefix}.{key}"
            if key == "non_field_errors":
                name = prefix or "nonFieldErrors"
            for k, v in _flatten(value, name).items():
                out.setdefault(k, []).extend(v)
        return out
    if isinstance(detail, list):
        if all(not isinstance(item, (dict, list)) for item in detail):
            return {prefix or "nonFieldErrors": [str(item) for item in detail]}
        out = {}
        for index, item in enumerate(detail):
            for k, v in _flatten(item, f"{prefix}[{index}]").items():
                out.setdefault(k, []).extend(v)
        return out
    return {prefix or "nonFieldErrors": [str(detail)]}


def _validation_response(detail) -> Response:
    fields = _flatten(detail)
    first_field, messages = next(iter(fields.items()))
    message = f"{first_field}: {messages[0]}"
    if len(fields) > 1:
        more = len(fields) - 1
        message += ngettext(" (and %(count)d more field error)", " (and %(count)d more field errors)", more) % {
            "count": more}
    return Response(error_body(CommonErrorCode.INVALID_INPUT, message, fields), status=status.HTTP_400_BAD_REQUEST)


_DRF_CODES = {
    exceptions.ParseError: CommonErrorCode.MALFORMED_REQUEST,
    exceptions.NotAuthenticated: CommonErrorCode.NOT_AUTHENTICATED,
    exceptions.AuthenticationFailed: CommonErrorCode.AUTHENTICATION_FAILED,
    exceptions.PermissionDenied: CommonErrorCode.PERMISSION_DENIED,
    exceptions.NotFound: CommonErrorCode.NOT_FOUND,
    exceptions.MethodNotAllowed: CommonErrorCode.METHOD_NOT_ALLOWED,
    exceptions.NotAcceptable: CommonErrorCode.NOT_ACCEPTABLE,
    exceptions.UnsupportedMediaType: CommonErrorCode.UNSUPPORTED_MEDIA_TYPE,
    exceptions.Throttled: CommonErrorCode.THROTTLED,
}


# The database is out of reach (restarting, failing over). Nothing was written (a write is one
# transaction): the same request, with the same Idempotency-Key, may be sent again.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


def database_unavailable_answer() -> tuple[dict, dict[str, str]]:
    """The body and headers of the 503 answered while the database is out of reach."""
    return (error_body(CommonErrorCode.SERVICE_UNAVAILABLE,
                       _("The service is briefly unavailable; send the same request again "
                         "(with the same Idempotency-Key) after Retry-After seconds.")),
            {"Retry-After": str(settings.API_UNAVAILABLE_RETRY_AFTER_S)})


class DatabaseUnavailableMiddleware:
    """The same 503 from the views outside the API (the SSE endpoint, the pages) as from the API."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, DATABASE_UNAVAILABLE):
            return None
        from django.http import JsonResponse

        logger.warning("database unavailable at %s: %r", request.path, exception)
        body, headers = database_unavailable_answer()
        return JsonResponse(body, status=CommonErrorCode.SERVICE_UNAVAILABLE.http_status, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        headers = {REPLAYED_HEADER: "true"} if exc.replayed else None
        return Response(error_body(str(exc.code), exc.message, exc.fields), status=exc.http_status, headers=headers)
    if isinstance(exc, RequestDataTooBig):
        return Response(error_body(CommonErrorCode.REQUEST_TOO_LARGE,
                                   "body: " + _("larger than the %(max)s bytes allowed") % {
                                       "max": f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE:,}"}),
                        status=CommonErrorCode.REQUEST_TOO_LARGE.http_status)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(exc.detail)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, DATABASE_UNAVAILABLE):
        logger.warning("database unavailable in %s: %r", context.get("view").__class__.__name__, exc)
        body, headers = database_unavailable_answer()
        return Response(body, status=CommonErrorCode.SERVICE_UNAVAILABLE.http_status, headers=headers)

    response = drf_exception_handler(exc, context)
    if response is None:
        # An unexpected failure: log it with its traceback and answer in the same shape.
        logger.exception("unhandled error in %s", context.get("view").__class__.__name__)
        return Response(
            error_body(CommonErrorCode.INTERNAL_ERROR, _("An unexpected error occurred; it has been logged.")),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    response.data = error_body(code, str(detail))
    return response
