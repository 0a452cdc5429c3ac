"""HTTP API of the wallet (camelCase JSON under /api/v1/). Views validate, call one service, serialise."""

import re

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from prepaid import openapi, throttling
from prepaid.errors import REPLAYED_HEADER
from prepaid.money import CURRENCY
from prepaid.pagination import NewestFirstPagination, page_parameters, page_serializer
from prepaid.serializers import StrictCharField, StrictInputSerializer, StrictUUIDField
from wallets import selectors, services
from wallets.errors import WalletErrorCode, wallet_error
from wallets.payments import payment_gateway

# --- Strict input fields: JSON types are not coerced (no "100" or 100.0 or true for an amount) ---


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": settings.WALLET_AMOUNT_MAX,
                      "description": "Integer won."})
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


@extend_schema_serializer(component_name="Transaction")
class TransactionOutputSerializer(serializers.Serializer):
    transactionId = serializers.UUIDField(source="pk")
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


@extend_schema_serializer(component_name="TransactionListItem")
class TransactionListItemSerializer(TransactionOutputSerializer):
    reversedAmount = serializers.IntegerField(source="reversed_amount")
    reversibleAmount = serializers.IntegerField(
        source="reversible_amount",
        help_text="What a reversal may still take: the amount less its reversals and the card refunds on their way "
                  "(0 for a reversal).")


# --- Writes: validate -> one service -> serialise ----------------------------------------

IDEMPOTENCY_ERRORS = (WalletErrorCode.IDEMPOTENCY_KEY_MISSING, WalletErrorCode.IDEMPOTENCY_KEY_INVALID,
                      WalletErrorCode.IDEMPOTENCY_KEY_REUSED, WalletErrorCode.IDEMPOTENCY_REQUEST_IN_FLIGHT)
TRANSACTION_EXAMPLE = OpenApiExample("A transaction (a spend)", response_only=True, status_codes=["201"], value={
    "transactionId": "0b9e6c1e-3f4a-4c8e-9b7d-2a1f5e6d7c8b", "type": "SPEND", "amount": 4_500, "newBalance": 5_500,
    "currency": "KRW", "createdAt": "2026-11-29T14:30:00.123456+09:00", "description": "coffee", "orderId": "",
    "paymentKey": "", "reversesTransactionId": None})

IDEMPOTENCY_KEY_RE = re.compile(rf"^[\x21-\x7e]{{1,{settings.IDEMPOTENCY_KEY_MAX_LENGTH}}}$")

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
    return Response(TransactionOutputSerializer(operation.transaction).data, status=201, headers=headers)


class ChargeAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="ChargeRequest")
    class InputSerializer(StrictInputSerializer):
        amount = WonField()
        paymentKey = StrictCharField(max_length=200, validators=[
            RegexValidator(r"^[\x21-\x7e]+$", "Printable ASCII characters without spaces.")])
        orderId = StrictCharField(max_length=64, validators=[
            RegexValidator(r"^[A-Za-z0-9_=-]{6,64}$", "6 to 64 characters: letters, digits, '-', '_' or '='.")])

    @extend_schema(
        request=InputSerializer, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER],
        responses={201: TransactionOutputSerializer, **openapi.errors(
            "Charge", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS,
            WalletErrorCode.PAYMENT_DECLINED, WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE,
            WalletErrorCode.DUPLICATE_ORDER, WalletErrorCode.BALANCE_LIMIT_EXCEEDED)},
        examples=[OpenApiExample("A charge", request_only=True,
                                 value={"amount": 10_000, "paymentKey": "tgen_20261129a", "orderId": "order-000001"}),
                  TRANSACTION_EXAMPLE],
        summary="Charge the wallet through the payment gateway")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_charge(user_id=request.user.id, amount=data["amount"],
                                              payment_key=data["paymentKey"], order_id=data["orderId"],
                                              idempotency=idempotency))


class ChargeOrderAPI(APIView):
    """Order first, then pay: what a checkout (Toss's widget, or the sandbox's page) is opened with."""

    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="ChargeOrderRequest")
    class InputSerializer(StrictInputSerializer):
        amount = WonField()

    @extend_schema_serializer(component_name="ChargeOrder")
    class OutputSerializer(serializers.Serializer):
        orderId = serializers.CharField()
        orderName = serializers.CharField()
        amount = serializers.IntegerField()
        currency = serializers.CharField()
        gateway = serializers.ChoiceField(choices=["sandbox", "toss"])
        clientKey = serializers.CharField(help_text="Toss's client key for its widget (empty for the sandbox).")
        customerKey = serializers.CharField()
        successUrl = serializers.URLField(help_text="Where the checkout returns with paymentKey, orderId, amount.")
        failUrl = serializers.URLField(help_text="Where the checkout returns with code and message.")
        checkoutUrl = serializers.CharField(allow_blank=True,
                                            help_text="The sandbox's checkout page (empty with Toss: open its widget).")

    @extend_schema(
        request=InputSerializer, parameters=[openapi.RETRY_AFTER],
        responses={201: OutputSerializer, **openapi.errors(
            "ChargeOrder", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED,
            WalletErrorCode.BALANCE_LIMIT_EXCEEDED)},
        summary="Register a charge order, to pay for in a checkout")
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        order = services.charge_order_create(user_id=request.user.id, amount=data["amount"])
        gateway = payment_gateway().name
        checkout = f"{reverse('charge-sandbox-checkout')}?orderId={order.order_id}" if gateway == "sandbox" else ""
        answer = {
            "orderId": order.order_id, "orderName": order.order_name, "amount": order.amount, "currency": CURRENCY,
            "gateway": gateway, "clientKey": settings.TOSS_CLIENT_KEY if gateway == "toss" else "",
            "customerKey": services.customer_key(request.user.id),
            "successUrl": request.build_absolute_uri(reverse("charge-success")),
            "failUrl": request.build_absolute_uri(reverse("charge-fail")), "checkoutUrl": checkout,
        }
        return Response(self.OutputSerializer(answer).data, status=201)


class SpendAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="SpendRequest")
    class InputSerializer(StrictInputSerializer):
        amount = WonField()
        description = _text_field()

    @extend_schema(
        request=InputSerializer, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER],
        responses={201: TransactionOutputSerializer, **openapi.errors(
            "Spend", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS,
            WalletErrorCode.INSUFFICIENT_FUNDS)},
        examples=[OpenApiExample("A spend", request_only=True, value={"amount": 4_500, "description": "coffee"}),
                  TRANSACTION_EXAMPLE],
        summary="Spend from the wallet")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_spend(user_id=request.user.id, amount=data["amount"],
                                             description=data["description"], idempotency=idempotency))


class ReversalAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="ReversalRequest")
    class InputSerializer(StrictInputSerializer):
        transactionId = StrictUUIDField()
        amount = WonField(required=False, help_text="Part of it (default: all that is left to reverse).")
        reason = _text_field()

    @extend_schema(
        request=InputSerializer, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER],
        responses={201: TransactionOutputSerializer, **openapi.errors(
            "Reversal", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS,
            WalletErrorCode.TRANSACTION_NOT_FOUND, WalletErrorCode.NOT_REVERSIBLE,
            WalletErrorCode.ALREADY_FULLY_REVERSED, WalletErrorCode.REVERSAL_EXCEEDS_REMAINING,
            WalletErrorCode.INSUFFICIENT_FUNDS, WalletErrorCode.REFUND_REFUSED, WalletErrorCode.REFUND_PENDING)},
        examples=[OpenApiExample("A partial reversal", request_only=True, value={
            "transactionId": "0b9e6c1e-3f4a-4c8e-9b7d-2a1f5e6d7c8b", "amount": 1_000, "reason": "refund"})],
        summary="Reverse (cancel) all or part of an earlier charge or spend",
        description="Reversing a charge refunds that amount on the card first: the wallet is debited if and "
                    "only if the payment gateway cancels it (`refund_refused`: it did not, nothing changed; "
                    "`refund_pending`: no answer yet, retried automatically).")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_reverse(user_id=request.user.id, transaction_id=data["transactionId"],
                                               amount=data.get("amount"), reason=data["reason"],
                                               idempotency=idempotency))


class WalletAPI(APIView):
    @extend_schema_serializer(component_name="Wallet")
    class OutputSerializer(serializers.Serializer):
        balance = serializers.IntegerField()
        currency = serializers.CharField()

    @extend_schema(responses={200: OutputSerializer, **openapi.errors("Wallet", *openapi.AUTHENTICATION)},
                   summary="The wallet's balance")
    def get(self, request):
        wallet = selectors.wallet_get(user_id=request.user.id)
        data = {"balance": wallet.balance if wallet else 0, "currency": CURRENCY}
        return Response(self.OutputSerializer(data).data)


class TransactionListAPI(APIView):
    @extend_schema(
        parameters=page_parameters(),
        responses={200: page_serializer(TransactionListItemSerializer, "TransactionPage"),
                   **openapi.errors("TransactionList", *openapi.AUTHENTICATION, *openapi.PAGE)},
        summary="The wallet's transactions, newest first (cursor pagination)")
    def get(self, request):
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(selectors.wallet_transactions(user_id=request.user.id), request, view=self)
        return paginator.get_paginated_response(TransactionListItemSerializer(page, many=True).data)


class TossWebhookAPI(APIView):
    """Toss Payments' notices (``PAYMENT_STATUS_CHANGED``). They are not signed, so nothing in
    one is believed: the payment is read back from Toss, and the ledger follows what Toss
    says (``services.payment_sync``). Acting is idempotent, so Toss's retries (up to 7) and
    replays change nothing more. A 503 when Toss cannot be read makes Toss send it again."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [throttling.WritesPerAddress]

    @extend_schema_serializer(component_name="TossWebhookPayment")
    class PaymentSerializer(serializers.Serializer):
        paymentKey = StrictCharField(max_length=200)

    @extend_schema_serializer(component_name="TossWebhook")
    class InputSerializer(serializers.Serializer):  # lenient: Toss may add fields
        eventType = StrictCharField(max_length=64)
        data = serializers.DictField()

    @extend_schema_serializer(component_name="TossWebhookAnswer")
    class OutputSerializer(serializers.Serializer):
        outcome = serializers.ChoiceField(choices=[
            "ignored", "unknown", "unchanged", "credited", "failed", "skipped", "reversed", "uncovered"])

    @extend_schema(
        request=InputSerializer, auth=[],
        responses={200: OutputSerializer, **openapi.errors(
            "TossWebhook", *openapi.BODY, *openapi.THROTTLED, openapi.C.NOT_ACCEPTABLE,
            WalletErrorCode.PAYMENT_GATEWAY_UNAVAILABLE)},
        summary="Toss Payments webhook: a payment's status changed")
    def post(self, request):
        data = validated(self.InputSerializer, request.data)
        if data["eventType"] != "PAYMENT_STATUS_CHANGED":
            return Response(self.OutputSerializer({"outcome": "ignored"}).data)
        payment = validated(self.PaymentSerializer, data["data"])
        outcome = services.payment_sync(payment_key=payment["paymentKey"])
        return Response(self.OutputSerializer({"outcome": outcome}).data)
