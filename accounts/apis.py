"""API tokens over HTTP: create one (its secret is in this answer only), list, revoke."""

import datetime

from django.conf import settings
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.services import TokenErrorCode
from prepaid import openapi, throttling
from prepaid.serializers import StrictInputSerializer, StrictIntegerField


@extend_schema_serializer(component_name="ApiToken")
class ApiTokenSerializer(serializers.Serializer):
    tokenId = serializers.CharField(source="token_key", help_text="Names the token (not secret).")
    createdAt = serializers.DateTimeField(source="created")
    expiresAt = serializers.DateTimeField(source="expiry")


@extend_schema_serializer(component_name="ApiTokenList")
class ApiTokenListSerializer(serializers.Serializer):
    results = ApiTokenSerializer(many=True)


@extend_schema_serializer(component_name="ApiTokenCreated")
class ApiTokenCreatedSerializer(ApiTokenSerializer):
    token = serializers.CharField(help_text="The secret: send it as `Authorization: Token <token>`. "
                                            "Shown once; only its digest is stored.")


class ApiTokenListCreateAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="ApiTokenRequest")
    class InputSerializer(StrictInputSerializer):
        expiresInDays = StrictIntegerField(min_value=1, max_value=settings.API_TOKEN_TTL_DAYS, required=False,
                                                 help_text=f"At most {settings.API_TOKEN_TTL_DAYS} (the default).")

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(responses={200: ApiTokenListSerializer, **openapi.errors("ApiTokenList", *openapi.AUTHENTICATION)},
                   summary="Your live API tokens, newest first")
    def get(self, request):
        return Response(ApiTokenListSerializer({"results": selectors.api_tokens_of(user=request.user)}).data)

    @extend_schema(request=InputSerializer, parameters=[openapi.RETRY_AFTER],
                   responses={201: ApiTokenCreatedSerializer, **openapi.errors(
                       "ApiTokenCreate", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED,
                       TokenErrorCode.TOO_MANY_TOKENS)},
                   summary="Create an API token (for a script or a device); its secret is in this answer only")
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        days = serializer.validated_data.get("expiresInDays")
        instance, token = services.api_token_create(
            user=request.user, ttl=None if days is None else datetime.timedelta(days=days))
        instance.token = token
        return Response(ApiTokenCreatedSerializer(instance).data, status=201)


class ApiTokenRevokeAPI(APIView):
    @extend_schema(responses={204: None, **openapi.errors("ApiTokenRevoke", *openapi.AUTHENTICATION,
                                                          TokenErrorCode.TOKEN_NOT_FOUND)},
                   summary="Revoke one of your API tokens (it stops working at once)")
    def delete(self, request, token_id: str):
        services.api_token_revoke(user=request.user, token_id=token_id)
        return Response(status=204)
