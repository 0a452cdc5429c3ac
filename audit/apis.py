"""The staff API of the audit store: its events filtered and paged, and an export as JSON Lines."""

import json

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import IsAdminUser
from rest_framework.views import APIView

from accounts.services import SignInErrorCode
from audit import selectors
from prepaid import openapi
from prepaid.errors import CommonErrorCode
from prepaid.events import EventType
from prepaid.pagination import NewestFirstPagination, page_parameters, page_serializer
from prepaid.serializers import StrictInputSerializer

_STAFF = (CommonErrorCode.PERMISSION_DENIED, SignInErrorCode.TWO_FACTOR_REQUIRED)


@extend_schema_serializer(component_name="AuditEventQuery")
class AuditEventQuerySerializer(StrictInputSerializer):
    user = serializers.IntegerField(required=False, min_value=1, help_text="One user's events.")
    type = serializers.ChoiceField(choices=[t.value for t in EventType], required=False)
    to = serializers.DateTimeField(required=False, help_text="Events before this moment.")

    def validate(self, data):
        if "from" in data and "to" in data and data["to"] <= data["from"]:
            raise serializers.ValidationError({"to": [_("Must be after from.")]})
        return data


AuditEventQuerySerializer._declared_fields["from"] = serializers.DateTimeField(
    required=False, help_text="Events from this moment.")


@extend_schema_serializer(component_name="AuditEvent")
class AuditEventOutputSerializer(serializers.Serializer):
    eventId = serializers.UUIDField(source="event_id")
    userId = serializers.IntegerField(source="user_id")
    seq = serializers.IntegerField(help_text="Its place in its user's chain, from 1.")
    eventType = serializers.CharField(source="event_type")
    occurredAt = serializers.DateTimeField(source="occurred_at")
    receivedAt = serializers.DateTimeField(source="received_at")
    kafka = serializers.SerializerMethodField()
    previousHash = serializers.CharField(source="previous_hash")
    hash = serializers.CharField()
    event = serializers.JSONField(source="payload", help_text="The event as it was on the topic.")

    def get_kafka(self, row) -> dict:
        return {"topic": row.kafka_topic, "partition": row.kafka_partition, "offset": row.kafka_offset}


class _NewestEventFirst(NewestFirstPagination):
    ordering = ("-occurred_at", "-pk")


def _filtered(params):
    """The events the query's filters select (400 naming a filter that is not valid)."""
    query = AuditEventQuerySerializer(data=params)
    query.is_valid(raise_exception=True)
    data = query.validated_data
    return selectors.audit_events(user_id=data.get("user"), event_type=data.get("type"), start=data.get("from"),
                                  end=data.get("to"))


_FILTERS = [AuditEventQuerySerializer]


class AuditEventListAPI(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=page_parameters() + _FILTERS,
        responses={200: page_serializer(AuditEventOutputSerializer, "AuditEventPage"),
                   **openapi.errors("AuditEventList", *openapi.AUTHENTICATION, *_STAFF, *openapi.PAGE)},
        operation_id="ops_audit_events_list",
        summary="The audit store's events, newest first (filter by user, type, period); staff only")
    def get(self, request):
        filters = request.query_params.copy()
        for name in ("cursor", "pageSize"):  # the paginator's
            filters.pop(name, None)
        paginator = _NewestEventFirst()
        page = paginator.paginate_queryset(_filtered(filters), request, view=self)
        return paginator.get_paginated_response(AuditEventOutputSerializer(page, many=True).data)


class AuditEventExportAPI(APIView):
    permission_classes = [IsAdminUser]

    @extend_schema(
        parameters=_FILTERS,
        responses={(200, "application/x-ndjson"): OpenApiResponse(
            {"type": "string"}, description="One AuditEvent per line, each chain in its order."),
            **openapi.errors("AuditEventExport", *openapi.AUTHENTICATION, *_STAFF, *openapi.PAGE)},
        operation_id="ops_audit_events_export",
        summary="Export the audit store's events as JSON Lines, streamed (each user's chain in order); staff only")
    def get(self, request):
        rows = _filtered(request.query_params).order_by("user_id", "seq")

        def lines():
            for row in rows.iterator(chunk_size=2_000):  # bounded memory, however many rows
                yield json.dumps(AuditEventOutputSerializer(row).data, ensure_ascii=False) + "\n"

        response = StreamingHttpResponse(lines(), content_type="application/x-ndjson; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.jsonl"'
        return response
