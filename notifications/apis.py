"""Notifications over HTTP: the SSE endpoint, a stream token for API clients, the list, mark as read."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django_eventstream.views import events as eventstream_events
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from notifications import selectors, services, sse
from prepaid.errors import error_body
from prepaid.pagination import NewestFirstPagination


def events(request):
    """SSE stream of the user's notifications (session cookie, or ``es-meta`` stream token).

    Refusals are plain 401/403 responses, so that EventSource gives up instead
    of reconnecting forever.
    """
    token = request.GET.get("es-meta")
    if token is not None:
        user_id = sse.sse_stream_token_user_id(token)
        if user_id is None or not get_user_model().objects.filter(pk=user_id, is_active=True).exists():
            return JsonResponse(error_body("authentication_failed", "es-meta: invalid or expired stream token"),
                                status=401)
    elif not request.user.is_authenticated:
        return JsonResponse(error_body("not_authenticated", "log in, or pass a stream token as es-meta"),
                            status=401)
    else:
        user_id = request.user.pk
    others = set(request.GET.getlist("channel")) - {sse.user_channel(user_id)}
    if others:
        return JsonResponse(error_body("permission_denied", f"channel: not yours: {', '.join(sorted(others))}"),
                            status=403)
    return eventstream_events(request)


class StreamTokenAPI(APIView):
    class OutputSerializer(serializers.Serializer):
        url = serializers.CharField()
        token = serializers.CharField()
        lastEventId = serializers.CharField()
        expiresInSeconds = serializers.IntegerField()

    @extend_schema(request=None, responses={201: OutputSerializer},
                   summary="A short-lived URL for an EventSource (which cannot send an Authorization header)")
    def post(self, request):
        token, max_age_s = sse.sse_stream_token(user_id=request.user.id)
        last_event_id = sse.sse_stream_position(user_id=request.user.id)
        url = request.build_absolute_uri(f"/events/?es-meta={token}&lastEventId={last_event_id}")
        data = {"url": url, "token": token, "lastEventId": last_event_id, "expiresInSeconds": max_age_s}
        return Response(self.OutputSerializer(data).data, status=201)


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
    @extend_schema(responses={200: NotificationOutputSerializer(many=True)}, summary="Notifications, newest first")
    def get(self, request):
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(selectors.notification_list(user_id=request.user.id), request, view=self)
        return paginator.get_paginated_response(NotificationOutputSerializer(page, many=True).data)


class NotificationMarkReadAPI(APIView):
    class InputSerializer(serializers.Serializer):
        eventIds = serializers.ListField(child=serializers.UUIDField(), allow_empty=False,
                                         max_length=settings.API_PAGE_SIZE_MAX)

    class OutputSerializer(serializers.Serializer):
        marked = serializers.IntegerField()
        unreadCount = serializers.IntegerField()

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer},
                   summary="Mark notifications read (by their eventId); unknown or already read ids are skipped")
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        marked = services.notifications_mark_read(user_id=request.user.id,
                                                  event_ids=serializer.validated_data["eventIds"])
        data = {"marked": marked, "unreadCount": selectors.notification_unread_count(user_id=request.user.id)}
        return Response(self.OutputSerializer(data).data)
