"""Notifications over HTTP: the SSE endpoint, a stream token for API clients, the list, mark as read."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.utils.decorators import decorator_from_middleware
from django.utils.translation import gettext as _
from django_eventstream.views import events as eventstream_events
from django_grip import GripMiddleware
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.exceptions import AuthenticationFailed, ValidationError
from rest_framework.permissions import IsAdminUser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import TokenAuthentication, user_is_active
from accounts.services import SignInErrorCode
from notifications import selectors, services, sse
from notifications.channels.slack import slack_url_masked
from prepaid import openapi, throttling
from prepaid.errors import ApplicationError, CommonErrorCode, error_body
from prepaid.events import EventType
from prepaid.pagination import NewestFirstPagination, page_parameters, page_serializer
from prepaid.serializers import StrictBooleanField, StrictCharField, StrictInputSerializer, StrictUUIDField


def _stream_user_id(request) -> int | None:
    """Whose stream: Pushpin recovering one (its channel says), an ``es-meta`` stream token, the API's
    Authorization header, or the session."""
    if request.GET.get("link") == "next" or request.GET.get("es-meta") is not None:
        if request.GET.get("link") == "next":
            user_id = sse.recovering_user_id(request)
        else:
            user_id = sse.sse_stream_token_user_id(request.GET["es-meta"])
        return user_id if user_id is not None and user_is_active(user_id) else None
    if request.headers.get("Authorization"):
        try:
            authenticated = TokenAuthentication().authenticate(request)
        except AuthenticationFailed:
            return None
        return authenticated[0].pk if authenticated else None
    return request.user.pk if request.user.is_authenticated else None


@decorator_from_middleware(GripMiddleware)
def events(request):
    """SSE stream of the user's notifications, held by Pushpin (see notifications.sse).

    Refusals are plain 4xx responses, so that EventSource gives up instead of
    reconnecting forever. Only Pushpin (a request its signature vouches for) may open
    a stream: a Django worker never holds one.
    """
    if not request.grip.proxied:
        return JsonResponse(error_body("proxy_required", "events: streams are served through the SSE proxy "
                                       "(Pushpin); connect to the platform's public address"), status=400)
    user_id = _stream_user_id(request)
    if user_id is None:
        return JsonResponse(error_body("not_authenticated", "log in, send an Authorization header, or pass a "
                                       "stream token as es-meta"), status=401)
    if request.user.pk != user_id:
        request.user = get_user_model()(pk=user_id, is_active=True)  # for the library: whose channel
    if "es-meta" in request.GET:
        # Checked above; the library would decode it and load the user again.
        request.GET = request.GET.copy()
        del request.GET["es-meta"]
    problem = sse.last_event_id_problem(request, user_id=user_id)
    if problem:
        name, text = problem
        return JsonResponse(error_body("invalid_input", f"{name}: {text}", {name: [text]}), status=400)
    others = set(request.GET.getlist("channel")) - {sse.user_channel(user_id)}
    if others:
        return JsonResponse(error_body("permission_denied", f"channel: not yours: {', '.join(sorted(others))}"),
                            status=403)
    response = eventstream_events(request)
    sse.grip_instruct_adjust(request)
    sse.grip_drop_padding(response)
    return response


class StreamTokenAPI(APIView):
    throttle_classes = throttling.STREAM_TOKENS

    @extend_schema_serializer(component_name="StreamToken")
    class OutputSerializer(serializers.Serializer):
        url = serializers.CharField(help_text="Open it with an EventSource: it carries the token and the position.")
        token = serializers.CharField()
        lastEventId = serializers.CharField(help_text="The stream's current position: nothing after it is missed.")
        expiresInSeconds = serializers.IntegerField()

    @extend_schema(request=None, parameters=[openapi.RETRY_AFTER],
                   responses={201: OutputSerializer, **openapi.errors(
                       "StreamToken", *openapi.AUTHENTICATION, *openapi.THROTTLED, CommonErrorCode.PERMISSION_DENIED)},
                   summary="A short-lived URL for an EventSource (which cannot send an Authorization header)")
    def post(self, request):
        token, max_age_s = sse.sse_stream_token(user_id=request.user.id)
        last_event_id = sse.sse_stream_position(user_id=request.user.id)
        url = request.build_absolute_uri(f"/events/?es-meta={token}&lastEventId={last_event_id}")
        data = {"url": url, "token": token, "lastEventId": last_event_id, "expiresInSeconds": max_age_s}
        return Response(self.OutputSerializer(data).data, status=201)


@extend_schema_serializer(component_name="Notification")
class NotificationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    eventId = serializers.UUIDField(source="event_id")
    eventType = serializers.CharField(source="event_type")
    title = serializers.CharField()
    message = serializers.CharField()
    type = serializers.CharField()
    balance = serializers.IntegerField(allow_null=True)
    createdAt = serializers.DateTimeField(source="created_at")
    readAt = serializers.DateTimeField(source="read_at", allow_null=True)


class NotificationListAPI(APIView):
    @extend_schema(parameters=page_parameters(),
                   responses={200: page_serializer(NotificationOutputSerializer, "NotificationPage"),
                              **openapi.errors("NotificationList", *openapi.AUTHENTICATION, *openapi.PAGE)},
                   summary="Notifications, newest first (cursor pagination)")
    def get(self, request):
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(selectors.notification_list(user_id=request.user.id), request, view=self)
        return paginator.get_paginated_response(NotificationOutputSerializer(page, many=True).data)


class NotificationMarkReadAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="MarkReadRequest")
    class InputSerializer(StrictInputSerializer):
        eventIds = serializers.ListField(child=StrictUUIDField(), allow_empty=False,
                                         max_length=settings.API_PAGE_SIZE_MAX)

    @extend_schema_serializer(component_name="MarkReadResult")
    class OutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField(help_text="How many were unread and are now read.")
        unreadCount = serializers.IntegerField(help_text="Unread notifications left, counted up to 999 "
                                                         "(NOTIFICATIONS_UNREAD_COUNT_MAX).")

    @extend_schema(request=InputSerializer, parameters=[openapi.RETRY_AFTER],
                   responses={200: OutputSerializer, **openapi.errors(
                       "MarkRead", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED)},
                   examples=[OpenApiExample("Two notifications", request_only=True, value={"eventIds": [
                       "5c1d0b9e-6c1e-4f4a-8c8e-9b7d2a1f5e6d", "a2b3c4d5-e6f7-4a8b-9c0d-1e2f3a4b5c6d"]})],
                   summary="Mark notifications read (by their eventId); unknown or already read ids are skipped")
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = services.notifications_mark_read(user_id=request.user.id,
                                                  event_ids=serializer.validated_data["eventIds"])
        data = {"marked": marked, "unreadCount": selectors.notification_unread_count(user_id=request.user.id)}
        return Response(self.OutputSerializer(data).data)


# --- Operations: dead letters (staff only) ---------------------------------------------------


class DeadLetterOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=selectors.DEAD_LETTER_STATUSES)
    originalTopic = serializers.CharField(source="original_topic")
    originalPartition = serializers.IntegerField(source="original_partition", allow_null=True)
    originalOffset = serializers.IntegerField(source="original_offset", allow_null=True)
    key = serializers.CharField()
    value = serializers.CharField(help_text="The record as it was (the event's JSON, or what was not an event).")
    exceptionType = serializers.CharField(source="exception_type")
    exceptionMessage = serializers.CharField(source="exception_message")
    attempts = serializers.IntegerField()
    failedAt = serializers.DateTimeField(source="failed_at", allow_null=True)
    replayedAt = serializers.DateTimeField(source="replayed_at", allow_null=True)
    replayCount = serializers.IntegerField(source="replay_count")
    discardedAt = serializers.DateTimeField(source="discarded_at", allow_null=True)
    discardReason = serializers.CharField(source="discard_reason")


# Not staff; or a staff session without its second factor (accounts/middleware.py).
_STAFF = (CommonErrorCode.PERMISSION_DENIED, SignInErrorCode.TWO_FACTOR_REQUIRED)


_ID = OpenApiParameter("dead_letter_id", int, OpenApiParameter.PATH)


def _dead_letter(dead_letter_id: str):
    # Any path segment reaches the view (not Django's HTML 404): what is not an id is not found.
    found = (selectors.dead_letter_get(dead_letter_id=int(dead_letter_id))
             if dead_letter_id.isascii() and dead_letter_id.isdigit() and len(dead_letter_id) < 19 else None)
    if found is None:
        raise ApplicationError(services.DeadLetterErrorCode.DEAD_LETTER_NOT_FOUND,
                               "id: " + _("no dead letter %(id)s") % {"id": dead_letter_id})
    return found


class DeadLetterListAPI(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=page_parameters() + [
            OpenApiParameter("status", {"type": "string", "enum": list(selectors.DEAD_LETTER_STATUSES)}),
            OpenApiParameter("exceptionType", str, description="e.g. prepaid.events.InvalidEvent")],
        responses={200: page_serializer(DeadLetterOutputSerializer, "DeadLetterPage"),
                   **openapi.errors("DeadLetterList", *openapi.AUTHENTICATION, *_STAFF, *openapi.PAGE)},
        operation_id="ops_dead_letters_list",
        summary="Dead letters (records parked on the DLT), newest first; staff only")
    def get(self, request):
        status = request.query_params.get("status")
        if status is not None and status not in selectors.DEAD_LETTER_STATUSES:
            raise ValidationError({"status": [
                _("One of %(statuses)s.") % {"statuses": ", ".join(selectors.DEAD_LETTER_STATUSES)}]})
        dead_letters = selectors.dead_letter_list(status=status,
                                                  exception_type=request.query_params.get("exceptionType"))
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(dead_letters, request, view=self)
        return paginator.get_paginated_response(DeadLetterOutputSerializer(page, many=True).data)


class DeadLetterDetailAPI(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(parameters=[_ID], responses={200: DeadLetterOutputSerializer, **openapi.errors(
        "DeadLetter", *openapi.AUTHENTICATION, *_STAFF, services.DeadLetterErrorCode.DEAD_LETTER_NOT_FOUND)},
        summary="One dead letter; staff only")
    def get(self, request, dead_letter_id: str):
        return Response(DeadLetterOutputSerializer(_dead_letter(dead_letter_id)).data)


class DeadLetterReplayAPI(APIView):
    permission_classes = [IsAdminUser]
    throttle_classes = throttling.WRITES

    @extend_schema(request=None, parameters=[_ID, openapi.RETRY_AFTER], responses={
        200: DeadLetterOutputSerializer, **openapi.errors(
            "DeadLetterReplay", *openapi.AUTHENTICATION, *_STAFF, *openapi.THROTTLED,
            services.DeadLetterErrorCode.DEAD_LETTER_NOT_FOUND, services.DeadLetterErrorCode.DEAD_LETTER_DISCARDED)},
        summary="Publish a dead letter's record again to its topic (the consumer dedups it); staff only")
    def post(self, request, dead_letter_id: str):
        dead_letter = services.dead_letter_replay(dead_letter=_dead_letter(dead_letter_id), by=request.user)
        return Response(DeadLetterOutputSerializer(dead_letter).data)


class DeadLetterDiscardAPI(APIView):
    permission_classes = [IsAdminUser]
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="DeadLetterDiscardRequest")
    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(max_length=500, help_text="Why it needs no replay (recorded).")

    @extend_schema(request=InputSerializer, parameters=[_ID, openapi.RETRY_AFTER], responses={
        200: DeadLetterOutputSerializer, **openapi.errors(
            "DeadLetterDiscard", *openapi.AUTHENTICATION, *_STAFF, *openapi.BODY, *openapi.THROTTLED,
            services.DeadLetterErrorCode.DEAD_LETTER_NOT_FOUND, services.DeadLetterErrorCode.DEAD_LETTER_NOT_OPEN)},
        summary="Close an open dead letter without replaying it, saying why; staff only")
    def post(self, request, dead_letter_id: str):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        dead_letter = services.dead_letter_discard(dead_letter=_dead_letter(dead_letter_id), by=request.user,
                                                   reason=serializer.validated_data["reason"])
        return Response(DeadLetterOutputSerializer(dead_letter).data)


# --- Channels beyond the browser: a user's preferences ------------------------------------------

_EVENT_TYPES = [t.value for t in EventType]


def _event_types_field():
    return serializers.ListField(child=serializers.ChoiceField(choices=_EVENT_TYPES), max_length=len(_EVENT_TYPES),
                                 help_text="Which events this channel tells of.")


@extend_schema_serializer(component_name="EmailPreferenceRequest")
class EmailPreferenceInput(StrictInputSerializer):
    enabled = StrictBooleanField()
    eventTypes = _event_types_field()


@extend_schema_serializer(component_name="SlackPreferenceRequest")
class SlackPreferenceInput(StrictInputSerializer):
    enabled = StrictBooleanField()
    webhookUrl = StrictCharField(required=False, allow_blank=True, max_length=500,
                                 help_text="A Slack incoming-webhook URL; omitted: the stored one is kept.")
    eventTypes = _event_types_field()


@extend_schema_serializer(component_name="NotificationPreferencesRequest")
class NotificationPreferencesInput(StrictInputSerializer):
    email = EmailPreferenceInput()
    slack = SlackPreferenceInput()


@extend_schema_serializer(component_name="EmailPreference")
class EmailPreferenceOutput(serializers.Serializer):
    enabled = serializers.BooleanField()
    eventTypes = serializers.ListField(child=serializers.CharField())
    address = serializers.CharField(help_text="The account's address.")


@extend_schema_serializer(component_name="SlackPreference")
class SlackPreferenceOutput(serializers.Serializer):
    enabled = serializers.BooleanField()
    eventTypes = serializers.ListField(child=serializers.CharField())
    webhookUrl = serializers.CharField(help_text="Masked: the host only (the URL is a secret).")
    disabledReason = serializers.CharField(help_text="Why Slack was switched off, if it refused the webhook.")


@extend_schema_serializer(component_name="NotificationPreferences")
class NotificationPreferencesOutput(serializers.Serializer):
    email = EmailPreferenceOutput()
    slack = SlackPreferenceOutput()


class NotificationPreferenceAPI(APIView):
    """Which channels tell the user of which events, beyond the browser (always on)."""

    throttle_classes = throttling.WRITES

    @staticmethod
    def _answer(user, preference):
        email = {"enabled": bool(preference and preference.email_enabled),
                 "eventTypes": preference.email_event_types if preference else _EVENT_TYPES, "address": user.email}
        slack = {"enabled": bool(preference and preference.slack_enabled),
                 "eventTypes": preference.slack_event_types if preference else _EVENT_TYPES,
                 "webhookUrl": slack_url_masked(preference.slack_webhook_url) if preference else "",
                 "disabledReason": preference.slack_disabled_reason if preference else ""}
        return Response(NotificationPreferencesOutput({"email": email, "slack": slack}).data)

    @extend_schema(responses={200: NotificationPreferencesOutput, **openapi.errors(
        "NotificationPreferences", *openapi.AUTHENTICATION, *openapi.THROTTLED)},
        summary="Your notification channels (email, Slack) and the events each tells of")
    def get(self, request):
        return self._answer(request.user, selectors.notification_preference_get(user_id=request.user.id))

    @extend_schema(request=NotificationPreferencesInput, parameters=[openapi.RETRY_AFTER],
                   responses={200: NotificationPreferencesOutput, **openapi.errors(
                       "NotificationPreferencesUpdate", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED)},
                   examples=[OpenApiExample("Email for everything, Slack for spends", request_only=True, value={
                       "email": {"enabled": True, "eventTypes": _EVENT_TYPES},
                       "slack": {"enabled": True, "webhookUrl": "https://hooks.slack.com/services/T0/B0/XXXX",
                                 "eventTypes": ["SPEND_COMPLETED"]}})],
                   summary="Set your notification channels")
    def put(self, request):
        serializer = NotificationPreferencesInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        email, slack = serializer.validated_data["email"], serializer.validated_data["slack"]
        preference = services.notification_preference_update(
            user=request.user, email_enabled=email["enabled"], email_event_types=email["eventTypes"],
            slack_enabled=slack["enabled"], slack_webhook_url=slack.get("webhookUrl"),
            slack_event_types=slack["eventTypes"])
        return self._answer(request.user, preference)
