"""HTTP API of the wallet (camelCase JSON under /api/v1/). Views validate, call one service, serialise."""

import re

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from prepaid import throttling
from prepaid.errors import REPLAYED_HEADER
from prepaid.money import CURRENCY
from prepaid.pagination import NewestFirstPagination
from prepaid.serializers import StrictCharField, StrictInputSerializer, StrictUUIDField
from wallets import selectors, services
from wallets.errors import WalletErrorCode, wallet_error

# --- Strict input fields: JSON types are not coerced (no "100" or 100.0 or true for an amount) ---


class WonField(serializers.Field):
    default_error_messages = {
        "invalid": "Must be an integer number of won (not a string, a decimal or a boolean).",
        "min_value": "Must be at least 1 won.",
        "max_value": "Must be at most {max_value} won.",
    }

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        if data < 1:
            self.fail("min_value")
        if data > settings.WALLET_AMOUNT_MAX:
            self.fail("max_value", max_value=settings.WALLET_AMOUNT_MAX)
        return data

    def to_representation(self, value):
        return value


def _text_field(**kwargs) -> StrictCharField:
    return StrictCharField(max_length=settings.WALLET_TEXT_MAX_LENGTH, trim_whitespace=True, **kwargs)


# --- Output ------------------------------------------------------------------------


class TransactionOutputSerializer(serializers.Serializer):
    transactionId = serializers.UUIDField(source="id")
    type = serializers.CharField(source="kind")
    amount = serializers.IntegerField()
    newBalance = serializers.IntegerField(source="balance_after")
    currency = serializers.SerializerMethodField()
    createdAt = serializers.DateTimeField(source="created_at")
    description = serializers.CharField()
    orderId = serializers.CharField(source="order_id")
    paymentKey = serializers.CharField(source="payment_key")
    reversesTransactionId = serializers.UUIDField(source="reverses_id", allow_null=True)

    def get_currency(self, entry) -> str:
        return CURRENCY


class TransactionListItemSerializer(TransactionOutputSerializer):
    reversedAmount = serializers.IntegerField(source="reversed_amount")


# --- Writes: validate -> one service -> serialise ----------------------------------------

IDEMPOTENCY_KEY_RE = re.compile(rf"^[\x21-\x7e]{{1,{settings.IDEMPOTENCY_KEY_MAX_LENGTH}}}$")

IDEMPOTENCY_KEY_PARAMETER = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
    description="Unique per operation (e.g. a UUID). The same key with the same body replays the first "
    "response; with another body: 422; while the first is still running: 409. Kept for 24 h.",
)


def idempotency_key_of(request) -> services.IdempotencyKey:
    """The request's Idempotency-Key (required on every write), with the request's fingerprint."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise wallet_error(WalletErrorCode.IDEMPOTENCY_KEY_MISSING)
    if not IDEMPOTENCY_KEY_RE.match(key):
        raise wallet_error(WalletErrorCode.IDEMPOTENCY_KEY_INVALID,
                           {"maxLength": settings.IDEMPOTENCY_KEY_MAX_LENGTH})
    return services.idempotency_key(key=key, method=request.method, path=request.path, body=request.data)


def validated(serializer_class: type[serializers.Serializer], data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def created(operation: services.WalletOperation) -> Response:
    """201 with the operation's transaction; marked when it is the answer of an earlier identical request."""
    headers = {REPLAYED_HEADER: "true"} if operation.replayed else None
    return Response(TransactionOutputSerializer(operation.entry).data, status=201, headers=headers)


class ChargeAPI(APIView):
    throttle_classes = throttling.WRITES

    class InputSerializer(StrictInputSerializer):
        amount = WonField()
        paymentKey = StrictCharField(max_length=200)
        orderId = StrictCharField(max_length=64)

        def validate_orderId(self, value):
            if not re.fullmatch(r"[A-Za-z0-9_=-]{6,64}", value):
                raise serializers.ValidationError("6 to 64 characters: letters, digits, '-', '_' or '='.")
            return value

        def validate_paymentKey(self, value):
            if not re.fullmatch(r"[\x21-\x7e]+", value):
                raise serializers.ValidationError("Printable ASCII characters without spaces.")
            return value

    @extend_schema(request=InputSerializer, responses={201: TransactionOutputSerializer},
                   parameters=[IDEMPOTENCY_KEY_PARAMETER], summary="Charge the wallet through the payment gateway")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_charge(user_id=request.user.id, amount=data["amount"],
                                              payment_key=data["paymentKey"], order_id=data["orderId"],
                                              idempotency=idempotency))


class SpendAPI(APIView):
    throttle_classes = throttling.WRITES

    class InputSerializer(StrictInputSerializer):
        amount = WonField()
        description = _text_field()

    @extend_schema(request=InputSerializer, responses={201: TransactionOutputSerializer},
                   parameters=[IDEMPOTENCY_KEY_PARAMETER], summary="Spend from the wallet")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_spend(user_id=request.user.id, amount=data["amount"],
                                             description=data["description"], idempotency=idempotency))


class ReversalAPI(APIView):
    throttle_classes = throttling.WRITES

    class InputSerializer(StrictInputSerializer):
        transactionId = StrictUUIDField()
        amount = WonField(required=False)
        reason = _text_field()

    @extend_schema(request=InputSerializer, responses={201: TransactionOutputSerializer},
                   parameters=[IDEMPOTENCY_KEY_PARAMETER],
                   summary="Reverse (cancel) all or part of an earlier charge or spend")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_reverse(user_id=request.user.id, transaction_id=data["transactionId"],
                                               amount=data.get("amount"), reason=data["reason"],
                                               idempotency=idempotency))


class WalletAPI(APIView):
    class OutputSerializer(serializers.Serializer):
        balance = serializers.IntegerField()
        currency = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer}, summary="The wallet's balance")
    def get(self, request):
        wallet = selectors.wallet_get(user_id=request.user.id)
        data = {"balance": wallet.balance if wallet else 0, "currency": CURRENCY}
        return Response(self.OutputSerializer(data).data)


class TransactionListAPI(APIView):
    @extend_schema(responses={200: TransactionListItemSerializer(many=True)},
                   summary="The wallet's transactions, newest first (cursor pagination)")
    def get(self, request):
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(selectors.wallet_transactions(user_id=request.user.id), request, view=self)
        return paginator.get_paginated_response(TransactionListItemSerializer(page, many=True).data)
