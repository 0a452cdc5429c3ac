"""HTTP API of the wallet (camelCase JSON under /api/v1/). Views validate, call one service, serialise."""

import csv
import io
import re
import uuid
from datetime import UTC, datetime, time, timedelta

from django.conf import settings
from django.core.validators import RegexValidator
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAdminUser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import SignInErrorCode
from prepaid import openapi, throttling
from prepaid.errors import REPLAYED_HEADER, CommonErrorCode, error_body
from prepaid.money import CURRENCY
from prepaid.pagination import NewestFirstPagination, page_parameters, page_serializer
from prepaid.serializers import (
    StrictBooleanField,
    StrictCharField,
    StrictInputSerializer,
    StrictIntegerField,
    StrictUUIDField,
)
from wallets import selectors, services
from wallets.errors import WalletErrorCode, wallet_error
from wallets.models import RefundGround, RefundRequestStatus, WalletTier
from wallets.payments import payment_gateway
from wallets.payouts import BANK_CODES

# --- Strict input fields: JSON types are not coerced (no "100" or 100.0 or true for an amount) ---


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": settings.WALLET_AMOUNT_MAX,
                      "description": "Integer won."})
class WonField(serializers.Field):
    default_error_messages = {
        "invalid": gettext_lazy("Must be an integer number of won (not a string, a decimal or a boolean)."),
        "min_value": gettext_lazy("Must be at least 1 won."),
        "max_value": gettext_lazy("Must be at most {max_value} won."),
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
    direction = serializers.ChoiceField(choices=["in", "out"],
                                        help_text="Whether the money came into this wallet or went out of it.")
    counterparty = serializers.CharField(source="counterparty_name", allow_null=True,
                                         help_text="A transfer's or a return's other user (null otherwise).")
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


def masked_name(user) -> str:
    """How a recipient is shown before money is sent (as Korean banking apps do): enough to recognise
    them, not to learn their name: 김민수 -> 김*수, alice -> a***e."""
    # A Korean name reads family name first (김 민수 -> 김민수); others as Django joins them.
    korean = any("\uac00" <= c <= "\ud7a3" for c in user.last_name + user.first_name)
    name = (user.last_name + user.first_name if korean else user.get_full_name()) or user.username
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1)
    return name[0] + "*" * (len(name) - 2) + name[-1]


class RecipientAPI(APIView):
    """Who a transfer would reach, named masked: what the sender checks before sending. Rate limited
    per user (``API_RECIPIENT_LOOKUPS_PER_USER_PER_MINUTE``, shared with transfers) so that the
    accounts cannot be enumerated."""

    throttle_classes = [throttling.RecipientLookupsPerUser]

    @extend_schema_serializer(component_name="Recipient")
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        displayName = serializers.CharField(help_text="The name, masked (김*수).")

    @extend_schema(
        parameters=[OpenApiParameter("username", str, OpenApiParameter.PATH, description="The recipient's username.")],
        responses={200: OutputSerializer, **openapi.errors(
            "Recipient", *openapi.AUTHENTICATION, *openapi.THROTTLED, WalletErrorCode.RECIPIENT_NOT_FOUND)},
        summary="Look up a transfer's recipient (masked name)")
    def get(self, request, username: str):
        recipient = selectors.recipient_get(username=username)
        if recipient is None:
            raise wallet_error(WalletErrorCode.RECIPIENT_NOT_FOUND, {"to": username})
        return Response(self.OutputSerializer({"username": recipient.username,
                                               "displayName": masked_name(recipient)}).data)


class TransferAPI(APIView):
    throttle_classes = [*throttling.WRITES, throttling.RecipientLookupsPerUser]

    @extend_schema_serializer(component_name="TransferRequest")
    class InputSerializer(StrictInputSerializer):
        to = StrictCharField(max_length=150, help_text="The recipient's username.")
        amount = WonField()
        message = _text_field(required=False, allow_blank=True, default="",
                              help_text="Shown to both (받는 분에게 표시).")

    @extend_schema(
        request=InputSerializer, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER],
        responses={201: TransactionOutputSerializer, **openapi.errors(
            "Transfer", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS,
            WalletErrorCode.RECIPIENT_NOT_FOUND, WalletErrorCode.TRANSFER_TO_SELF, WalletErrorCode.INSUFFICIENT_FUNDS,
            WalletErrorCode.TRANSFER_DAILY_LIMIT_EXCEEDED, WalletErrorCode.RECIPIENT_BALANCE_LIMIT_EXCEEDED)},
        examples=[OpenApiExample("A transfer", request_only=True,
                                 value={"to": "minsu", "amount": 15_000, "message": "점심값"})],
        summary="Send money to another user's wallet (송금)",
        description="Final for the sender: the recipient may send it back (a reversal of it, by the recipient); "
                    "an operator may return it. Both users are notified on every channel they chose.")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_transfer(user_id=request.user.id, to=data["to"], amount=data["amount"],
                                                message=data["message"], idempotency=idempotency))


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
        summary="Reverse (cancel) all or part of an earlier charge or spend, or return a transfer received",
        description="Reversing a charge refunds that amount on the card first: the wallet is debited if and "
                    "only if the payment gateway cancels it (`refund_refused`: it did not, nothing changed; "
                    "`refund_pending`: no answer yet, retried automatically). A transfer received is returned "
                    "to its sender; a transfer sent is final (`not_reversible`).")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.wallet_reverse(user_id=request.user.id, transaction_id=data["transactionId"],
                                               amount=data.get("amount"), reason=data["reason"],
                                               idempotency=idempotency))


class WalletAPI(APIView):
    @extend_schema_serializer(component_name="WalletQuery")
    class QuerySerializer(StrictInputSerializer):
        asOf = serializers.DateTimeField(required=False, help_text="A past moment (ISO 8601; Korean time "
                                                                   "without an offset): the balance then.")

        def validate(self, data):
            if "asOf" in self.initial_data and "asOf" not in data:  # asOf= (empty) is not "now"
                raise serializers.ValidationError({"asOf": [_("Must be a date and time.")]})
            return data

    @extend_schema_serializer(component_name="Wallet")
    class OutputSerializer(serializers.Serializer):
        balance = serializers.IntegerField()
        available = serializers.IntegerField(required=False,
                                             help_text="What can be spent now: the balance less active holds "
                                                       "(now only).")
        currency = serializers.CharField()
        asOf = serializers.DateTimeField(required=False, default_timezone=UTC,
                                         help_text="The moment asked for, in UTC (with asOf only).")
        tier = serializers.ChoiceField(choices=WalletTier.values, required=False,
                                       help_text="How far the user's identity is verified (now only): it sets the "
                                                 "two limits below.")
        balanceMax = serializers.IntegerField(required=False, help_text="The most won the wallet may hold (now "
                                                                          "only): charges and transfers in beyond "
                                                                          "it are refused.")
        transferDailyMax = serializers.IntegerField(required=False, help_text="The most won the user may send to "
                                                                                "others in a day, Korean time (now "
                                                                                "only).")

    @extend_schema(parameters=[QuerySerializer],
                   responses={200: OutputSerializer,
                              **openapi.errors("Wallet", *openapi.AUTHENTICATION, *openapi.PAGE)},
                   summary="The wallet's balance, now or at a past moment")
    def get(self, request):
        query = validated(self.QuerySerializer, request.query_params)
        if "asOf" in query:
            data = {"balance": selectors.wallet_balance_at(user_id=request.user.id, at=query["asOf"]),
                    "currency": CURRENCY, "asOf": query["asOf"]}
        else:
            wallet = selectors.wallet_with_held(user_id=request.user.id)
            tier = wallet.tier if wallet else WalletTier.UNVERIFIED
            limits = selectors.tier_limits()[tier]
            data = {"balance": wallet.balance if wallet else 0,
                    "available": wallet.balance - wallet.held if wallet else 0, "currency": CURRENCY,
                    "tier": tier, "balanceMax": limits["balanceMax"], "transferDailyMax": limits["transferDailyMax"]}
        return Response(self.OutputSerializer(data).data)


@extend_schema_serializer(component_name="Hold")
class HoldOutputSerializer(serializers.Serializer):
    holdId = serializers.UUIDField(source="hold.id")
    status = serializers.ChoiceField(choices=["ACTIVE", "CAPTURED", "VOIDED", "EXPIRED"], source="hold.status")
    amount = serializers.IntegerField(source="hold.amount", help_text="Won authorized.")
    captured = serializers.IntegerField(source="hold.captured")
    remaining = serializers.IntegerField(source="hold.remaining", help_text="What it still keeps (0 once ended).")
    description = serializers.CharField(source="hold.description")
    expiresAt = serializers.DateTimeField(source="hold.expires_at")
    createdAt = serializers.DateTimeField(source="hold.created_at")
    endedAt = serializers.DateTimeField(source="hold.ended_at", allow_null=True)
    balance = serializers.IntegerField(allow_null=True, help_text="The wallet's balance (with a write's answer).")
    available = serializers.IntegerField(allow_null=True,
                                         help_text="The wallet's available balance (with a write's answer).")


def _hold_answer(answer: services.HoldAnswer, status: int) -> Response:
    headers = {REPLAYED_HEADER: "true"} if answer.replayed else None
    return Response(HoldOutputSerializer(answer).data, status=status, headers=headers)


HOLD_ERRORS = (WalletErrorCode.HOLD_NOT_FOUND, WalletErrorCode.HOLD_NOT_ACTIVE)
HOLD_ID = OpenApiParameter("hold_id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The hold's id.")


def _hold_id(raw: str) -> uuid.UUID:
    """The hold id in the path; one that is not a UUID names no hold (a JSON 404, not the router's page)."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise wallet_error(WalletErrorCode.HOLD_NOT_FOUND, {"holdId": raw[:64]}) from None


class HoldsAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="HoldRequest")
    class InputSerializer(StrictInputSerializer):
        amount = WonField()
        description = _text_field()
        expiresInS = StrictIntegerField(min_value=1, max_value=settings.HOLD_EXPIRY_MAX_S,
                                        help_text="Seconds until what is left is released.")

    @extend_schema(
        request=InputSerializer, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER],
        responses={201: HoldOutputSerializer, **openapi.errors(
            "Hold", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS,
            WalletErrorCode.INSUFFICIENT_FUNDS)},
        examples=[OpenApiExample("A hold", request_only=True,
                                 value={"amount": 30_000, "description": "주유 선승인", "expiresInS": 3_600})],
        summary="Place a hold: the available balance drops, the balance does not")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return _hold_answer(services.hold_place(user_id=request.user.id, amount=data["amount"],
                                                description=data["description"], expires_in_s=data["expiresInS"],
                                                idempotency=idempotency), 201)


class HoldAPI(APIView):
    @extend_schema(parameters=[HOLD_ID], responses={200: HoldOutputSerializer, **openapi.errors(
                       "HoldRead", *openapi.AUTHENTICATION, WalletErrorCode.HOLD_NOT_FOUND)},
                   summary="A hold")
    def get(self, request, hold_id):
        hold = selectors.hold_get(user_id=request.user.id, hold_id=_hold_id(hold_id))
        if hold is None:
            raise wallet_error(WalletErrorCode.HOLD_NOT_FOUND, {"holdId": str(hold_id)})
        return Response(HoldOutputSerializer({"hold": hold, "balance": None, "available": None}).data)


class HoldCaptureAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="HoldCaptureRequest")
    class InputSerializer(StrictInputSerializer):
        amount = WonField(required=False, help_text="Part of it (default: all that is left).")
        final = StrictBooleanField(required=False, default=False,
                                   help_text="End the hold with this capture, releasing what is left.")

    @extend_schema(
        request=InputSerializer, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER, HOLD_ID],
        responses={201: TransactionOutputSerializer, **openapi.errors(
            "HoldCapture", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS,
            *HOLD_ERRORS, WalletErrorCode.CAPTURE_EXCEEDS_HOLD)},
        summary="Capture part or all of a hold (a spend from it)")
    def post(self, request, hold_id):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        return created(services.hold_capture(user_id=request.user.id, hold_id=_hold_id(hold_id),
                                             amount=data.get("amount"), final=data["final"], idempotency=idempotency))


class HoldVoidAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema(
        request=None, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER, HOLD_ID],
        responses={200: HoldOutputSerializer, **openapi.errors(
            "HoldVoid", *openapi.AUTHENTICATION, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS, *HOLD_ERRORS)},
        summary="Void a hold: what is left of it is released")
    def post(self, request, hold_id):
        idempotency = idempotency_key_of(request)
        return _hold_answer(services.hold_void(user_id=request.user.id, hold_id=_hold_id(hold_id),
                                               idempotency=idempotency), 200)


# --- Batches: many operations, one request, one round trip to PostgreSQL -------------------------


def _batch_item_serializer(kind: str, base: type[serializers.Serializer], component: str, **fields):
    """A batch item of ``kind``: the fields of the operation alone (``base``), its type and its key."""
    attrs = {
        "type": serializers.ChoiceField(choices=[kind]),
        "idempotencyKey": StrictCharField(
            max_length=settings.IDEMPOTENCY_KEY_MAX_LENGTH, trim_whitespace=False,
            validators=[RegexValidator(IDEMPOTENCY_KEY_RE, "1 to 255 printable ASCII characters.")],
            help_text="This operation's own Idempotency-Key, as its endpoint alone takes it: the same key and "
                      "fields replay its answer, in a batch or alone."),
        **fields,
    }
    return extend_schema_serializer(component_name=component)(type(component, (base,), attrs))


BATCH_ITEM_SERIALIZERS = {
    "spend": _batch_item_serializer("spend", SpendAPI.InputSerializer, "BatchSpend"),
    "transfer": _batch_item_serializer("transfer", TransferAPI.InputSerializer, "BatchTransfer"),
    "reversal": _batch_item_serializer("reversal", ReversalAPI.InputSerializer, "BatchReversal"),
    "capture": _batch_item_serializer("capture", HoldCaptureAPI.InputSerializer, "BatchCapture",
                                      holdId=StrictUUIDField(help_text="The hold to capture from.")),
}
# The endpoint each kind has alone: an item's key is fingerprinted as that request.
_BATCH_ITEM_PATHS = {"spend": lambda item: reverse("wallet-spends"),
                     "transfer": lambda item: reverse("wallet-transfers"),
                     "reversal": lambda item: reverse("wallet-reversals"),
                     "capture": lambda item: reverse("wallet-hold-captures", args=[item["holdId"]])}


@extend_schema_serializer(component_name="BatchItemResult")
class BatchItemResultSerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status the operation alone would have answered.")
    replayed = serializers.BooleanField(required=False,
                                        help_text="Its key's first answer, replayed (as Idempotent-Replayed).")
    transaction = TransactionOutputSerializer(required=False, help_text="What it did (201).")
    error = openapi.ErrorSerializer(required=False, help_text="Why not, as the operation alone would say it.")


def _batch_item_results(answers: list[services.BatchItemAnswer]) -> list[dict]:
    """Each item's answer; the transactions serialised together (one serializer, not one per item: a
    serializer's fields are built, deep-copied, each time one is made)."""
    done = [answer.operation.transaction for answer in answers if answer.operation is not None]
    transactions = iter(TransactionOutputSerializer(done, many=True).data)
    results = []
    for answer in answers:
        if answer.operation is not None:
            results.append({"status": 201, "replayed": answer.operation.replayed, "transaction": next(transactions)})
        else:
            error = answer.error
            results.append({"status": error.http_status,
                            "error": error_body(error.code, error.message, error.fields)})
    return results


class BatchAPI(APIView):
    """Up to ``WALLET_BATCH_ITEMS_MAX`` operations of the caller's wallet in one request and one statement."""

    throttle_classes = [*throttling.WRITES, throttling.BatchItemsPerUser, throttling.BatchTransfersPerUser]

    @extend_schema_serializer(component_name="BatchRequest")
    class InputSerializer(StrictInputSerializer):
        atomic = StrictBooleanField(required=False, default=False,
                                    help_text="All or nothing: if one operation is not done, none is.")
        items = serializers.ListField(
            child=PolymorphicProxySerializer(component_name="BatchItem", serializers=BATCH_ITEM_SERIALIZERS,
                                             resource_type_field_name="type"),
            min_length=1, max_length=settings.WALLET_BATCH_ITEMS_MAX,
            help_text=f"1 to {settings.WALLET_BATCH_ITEMS_MAX} operations, run in this order.")

    class EnvelopeSerializer(StrictInputSerializer):
        atomic = StrictBooleanField(required=False, default=False)
        items = serializers.ListField(child=serializers.JSONField(), min_length=1,
                                      max_length=settings.WALLET_BATCH_ITEMS_MAX)

    @extend_schema_serializer(component_name="Batch")
    class OutputSerializer(serializers.Serializer):
        atomic = serializers.BooleanField()
        done = serializers.IntegerField(help_text="Items done (201), replayed ones included.")
        refused = serializers.IntegerField(help_text="Items not done.")
        items = BatchItemResultSerializer(many=True, help_text="Each item's answer, in the items' order.")

    @extend_schema(
        request=InputSerializer, parameters=[openapi.RETRY_AFTER],
        responses={200: OutputSerializer, **openapi.errors(
            "Batch", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, WalletErrorCode.BATCH_REFUSED)},
        examples=[OpenApiExample("Two spends and a reversal", request_only=True, value={"items": [
            {"type": "spend", "idempotencyKey": "order-7781-1", "amount": 4_500, "description": "coffee"},
            {"type": "spend", "idempotencyKey": "order-7781-2", "amount": 12_000, "description": "lunch"},
            {"type": "reversal", "idempotencyKey": "order-7779-r", "transactionId":
             "0b9e6c1e-3f4a-4c8e-9b7d-2a1f5e6d7c8b", "reason": "returned"}]})],
        summary="Run many operations in one request (spends, transfers, reversals, hold captures)",
        description="Each operation runs as it would alone, with its own Idempotency-Key, its own answer (in "
                    "`items`, with the status it would have had) and its own events; all of them in one "
                    "database transaction, in order. Charges are not batched (each goes through the payment "
                    "gateway). With `atomic`, one operation not done means none is: 422 `batch_refused`, whose "
                    "`fields` name it (`items[2]`: its code; `items[2].amount`: its own fields' messages). A "
                    "batch counts once among the writes, and its operations against their own rate "
                    "(`API_BATCH_ITEMS_PER_USER_PER_MINUTE`); its transfers among the recipient look-ups.")
    def post(self, request):
        envelope = validated(self.EnvelopeSerializer, request.data)
        raws, errors = envelope["items"], {}
        by_kind: dict[str, list[int]] = {}
        for index, raw in enumerate(raws):
            kind = raw.get("type") if isinstance(raw, dict) else None
            if isinstance(kind, str) and kind in BATCH_ITEM_SERIALIZERS:
                by_kind.setdefault(kind, []).append(index)
            else:
                errors[index] = ({"type": [f"Must be one of: {', '.join(BATCH_ITEM_SERIALIZERS)}."]}
                                 if isinstance(raw, dict) else ["Must be an object."])
        data: dict[int, dict] = {}
        for kind, indices in by_kind.items():  # one serializer a kind, its items validated as a list
            serializer = BATCH_ITEM_SERIALIZERS[kind](data=[raws[i] for i in indices], many=True)
            if serializer.is_valid():
                data.update(zip(indices, serializer.validated_data, strict=True))
            else:
                found = serializer.errors  # {position: errors} (a list of them in older DRF)
                found = found.items() if isinstance(found, dict) else enumerate(found)
                errors.update((indices[position], e) for position, e in found if e)
        if errors:
            raise ValidationError({"items": dict(sorted(errors.items()))})
        items = [self._item(raws[i], data[i], request.method) for i in range(len(raws))]
        answer = services.wallet_batch(user_id=request.user.id, items=items, atomic=envelope["atomic"])
        if answer.refused_index is not None:  # all or nothing: nothing; the one error body, naming the item
            raise services.batch_refusal(answer)
        results = _batch_item_results(answer.items)
        done = sum(1 for item in answer.items if item.operation is not None)
        return Response({"atomic": answer.atomic, "done": done, "refused": len(results) - done, "items": results})

    @staticmethod
    def _item(raw: dict, data: dict, method: str) -> services.BatchItem:
        kind = data["type"]
        # The request the operation alone would be: its path and its body (what the batch adds, left out).
        body = {name: value for name, value in raw.items() if name not in ("type", "idempotencyKey", "holdId")}
        idempotency = services.idempotency_key(key=data["idempotencyKey"], method=method,
                                               path=_BATCH_ITEM_PATHS[kind](raw), body=body)
        return services.BatchItem(
            kind=kind, idempotency=idempotency, amount=data.get("amount"), description=data.get("description", ""),
            to=data.get("to", ""), message=data.get("message", ""), transaction_id=data.get("transactionId"),
            reason=data.get("reason", ""), hold_id=data.get("holdId"), final=data.get("final", False))


class StatementCSVRenderer(BaseRenderer):
    """A statement as CSV for a spreadsheet: UTF-8 with a byte order mark (without it Excel reads Hangul
    as mojibake), integer won, Korean headings; an error as its code and message."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"
    HEADINGS = ["일시", "구분", "입출금", "금액", "잔액", "상대방", "내용", "거래 ID"]

    def render(self, data, accepted_media_type=None, renderer_context=None):
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if "lines" not in (data or {}):
            writer.writerow(["code", "message"])
            writer.writerow([data.get("code", ""), data.get("message", "")] if data else ["", ""])
        else:
            writer.writerow(self.HEADINGS)
            writer.writerow([data["from"], "기초 잔액", "", "", data["openingBalance"], "", "", ""])
            for line in data["lines"]:
                writer.writerow([line["createdAt"], line["type"], "입금" if line["direction"] == "in" else "출금",
                                 line["amount"], line["balanceAfter"], line["counterparty"] or "",
                                 _spreadsheet_safe(line["description"]), line["transactionId"]])
            writer.writerow([data["to"], "기말 잔액", "", "", data["closingBalance"], "", "", ""])
        return ("\ufeff" + out.getvalue()).encode("utf-8")


def _spreadsheet_safe(text: str) -> str:
    """Free text a user typed, never read by a spreadsheet as a formula (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class StatementAPI(APIView):
    renderer_classes = [JSONRenderer, StatementCSVRenderer]
    FORMATS = ("json", "csv")

    def perform_content_negotiation(self, request, force=False):
        # An unknown ?format= is a 400 naming it (DRF would answer 404).
        if not force and request.query_params.get("format", "json") not in self.FORMATS:
            raise ValidationError({"format": [
                _("Must be one of: %(formats)s.") % {"formats": ", ".join(self.FORMATS)}]})
        return super().perform_content_negotiation(request, force)

    @extend_schema_serializer(component_name="StatementQuery")
    class QuerySerializer(StrictInputSerializer):
        # "from" is a Python keyword: the field is declared below.
        to = serializers.DateField(help_text="The last day (Korean time), included.")

        def validate(self, data):
            start, end = data["from"], data["to"]
            if end < start:
                raise serializers.ValidationError({"to": [_("Must not be before from.")]})
            if (end - start).days + 1 > settings.STATEMENT_PERIOD_MAX_DAYS:
                raise serializers.ValidationError(
                    {"to": [_("A statement covers at most %(days)s days.") % {
                        "days": settings.STATEMENT_PERIOD_MAX_DAYS}]})
            return data

    QuerySerializer._declared_fields["from"] = serializers.DateField(help_text="The first day (Korean time).")

    @extend_schema_serializer(component_name="StatementLine")
    class LineSerializer(serializers.Serializer):
        transactionId = serializers.UUIDField(source="transaction_id")
        createdAt = serializers.DateTimeField(source="created_at")
        type = serializers.CharField(source="kind")
        direction = serializers.ChoiceField(choices=["in", "out"])
        amount = serializers.IntegerField()
        balanceAfter = serializers.IntegerField(source="balance_after")
        counterparty = serializers.CharField(allow_null=True)
        description = serializers.CharField()

    @extend_schema_serializer(component_name="Statement")
    class OutputSerializer(serializers.Serializer):
        currency = serializers.CharField()
        openingBalance = serializers.IntegerField(source="opening_balance")
        closingBalance = serializers.IntegerField(source="closing_balance")
        totalIn = serializers.IntegerField(source="total_in")
        totalOut = serializers.IntegerField(source="total_out")

    OutputSerializer._declared_fields["lines"] = LineSerializer(many=True)
    OutputSerializer._declared_fields["from"] = serializers.DateField()
    OutputSerializer._declared_fields["to"] = serializers.DateField()

    @extend_schema(
        parameters=[QuerySerializer, OpenApiParameter("format", str, enum=list(FORMATS), required=False,
                                                      description="csv: the same as Accept: text/csv.")],
        responses={(200, "application/json"): OutputSerializer, (200, "text/csv"): {"type": "string"},
                   **openapi.errors("Statement", *openapi.AUTHENTICATION, *openapi.PAGE,
                                    WalletErrorCode.STATEMENT_TOO_LONG)},
        summary="The wallet's statement for a period: opening balance, every transaction, closing balance",
        description="JSON, or CSV with `Accept: text/csv` (or `?format=csv`): UTF-8 with a byte order mark, "
                    "integer won, for a spreadsheet.")
    def get(self, request, format=None):
        query = validated(self.QuerySerializer, {k: v for k, v in request.query_params.items() if k != "format"})
        start, last = query["from"], query["to"]
        zone = timezone.get_current_timezone()
        try:
            statement = selectors.wallet_statement(
                user_id=request.user.id, start=datetime.combine(start, time.min, zone),
                end=datetime.combine(last + timedelta(days=1), time.min, zone), lines_max=settings.STATEMENT_LINES_MAX)
        except selectors.StatementTooLong:
            raise wallet_error(WalletErrorCode.STATEMENT_TOO_LONG, {"linesMax": settings.STATEMENT_LINES_MAX}) from None
        body = self.OutputSerializer({
            "currency": CURRENCY, "from": start, "to": last, "opening_balance": statement.opening_balance,
            "closing_balance": statement.closing_balance, "total_in": statement.total_in,
            "total_out": statement.total_out, "lines": statement.lines}).data
        headers = None
        if request.accepted_renderer.format == "csv":
            headers = {"Content-Disposition": f'attachment; filename="statement-{start}-{last}.csv"'}
        return Response(body, headers=headers)


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


# --- Staff: verification tiers -----------------------------------------------------------


_STAFF = (CommonErrorCode.PERMISSION_DENIED, SignInErrorCode.TWO_FACTOR_REQUIRED)


# --- Remaining-balance refunds (잔액환불) ---------------------------------------------------


@extend_schema_serializer(component_name="BankAccount")
class BankAccountSerializer(StrictInputSerializer):
    bankCode = serializers.ChoiceField(choices=sorted(BANK_CODES), help_text="The bank's 3-digit code (KFTC).")
    accountNumber = StrictCharField(max_length=20, help_text="10 to 16 digits; hyphens allowed.")
    holderName = StrictCharField(max_length=50, trim_whitespace=True)


@extend_schema_serializer(component_name="RefundRequest")
class RefundRequestOutputSerializer(serializers.Serializer):
    @extend_schema_serializer(component_name="RefundRequestCardRefund")
    class CardRefundSerializer(serializers.Serializer):
        transactionId = serializers.UUIDField(source="payment.entry_id", help_text="The charge refunded.")
        amount = serializers.IntegerField()
        status = serializers.ChoiceField(choices=["REQUESTED", "SUCCEEDED", "FAILED", "UNCOVERED"])

    @extend_schema_serializer(component_name="RefundRequestPayout")
    class PayoutSerializer(serializers.Serializer):
        payoutId = serializers.UUIDField(source="id")
        amount = serializers.IntegerField(help_text="Won paid to the bank account.")
        fromExpired = serializers.IntegerField(source="from_expired",
                                               help_text="Expired won it settles (0: from the wallet).")
        status = serializers.ChoiceField(choices=["REQUESTED", "SUCCEEDED", "FAILED"])

    requestId = serializers.UUIDField(source="id")
    status = serializers.ChoiceField(choices=["PROCESSING", "COMPLETED", "PARTIAL"])
    ground = serializers.CharField()
    amount = serializers.IntegerField(help_text="Of the wallet's balance, won.")
    toCards = serializers.IntegerField(source="to_cards")
    expiredAmount = serializers.IntegerField(source="expired_amount")
    expiredRefund = serializers.IntegerField(source="expired_refund",
                                             help_text="What is paid for the expired balance (its refundable share).")
    refundedToCards = serializers.SerializerMethodField()
    paidOut = serializers.SerializerMethodField()
    accountNumber = serializers.CharField(source="account_masked", help_text="Masked: the last four digits.")
    bankCode = serializers.CharField(source="bank_code")
    cardRefunds = CardRefundSerializer(source="refunds", many=True)
    payouts = PayoutSerializer(many=True)
    createdAt = serializers.DateTimeField(source="created_at")
    completedAt = serializers.DateTimeField(source="completed_at", allow_null=True)

    def get_refundedToCards(self, request) -> int:
        return sum(r.amount for r in request.refunds.all() if r.status == "SUCCEEDED")

    def get_paidOut(self, request) -> int:
        return sum(p.amount for p in request.payouts.all() if p.status == "SUCCEEDED")


REFUND_REQUEST_ERRORS = (WalletErrorCode.REFUND_NOT_ELIGIBLE, WalletErrorCode.NOTHING_TO_REFUND,
                         WalletErrorCode.REFUND_REQUEST_OPEN, WalletErrorCode.BANK_ACCOUNT_REQUIRED)


def _refund_request_answer(request_id, user_id: int, replayed: bool, status: int) -> Response:
    found = selectors.refund_request_get(user_id=user_id, request_id=request_id)
    headers = {REPLAYED_HEADER: "true"} if replayed else None
    return Response(RefundRequestOutputSerializer(found).data, status=status, headers=headers)


class RefundRequestsAPI(APIView):
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="RefundRequestRequest")
    class InputSerializer(StrictInputSerializer):
        bankAccount = BankAccountSerializer(required=False, help_text=(
            "Where what no card takes back is paid (money received by transfer, a card that refuses, the expired "
            "balance). Required when there is any."))

    @extend_schema(
        request=InputSerializer, parameters=openapi.idempotency_parameters() + [openapi.RETRY_AFTER],
        responses={201: RefundRequestOutputSerializer, 202: RefundRequestOutputSerializer, **openapi.errors(
            "RefundRequestCreate", *openapi.AUTHENTICATION, *openapi.BODY, *openapi.THROTTLED, *IDEMPOTENCY_ERRORS,
            *REFUND_REQUEST_ERRORS)},
        examples=[OpenApiExample("To the cards, the rest to a bank account", request_only=True, value={
            "bankAccount": {"bankCode": "088", "accountNumber": "110-123-456789", "holderName": "홍길동"}})],
        summary="Have the remaining balance refunded (잔액환불): to the cards it came from, newest charge first, "
                "and the rest to a bank account; 201 when done, 202 while a gateway has yet to answer")
    def post(self, request):
        idempotency = idempotency_key_of(request)
        data = validated(self.InputSerializer, request.data)
        account = services.bank_account_check(request.data.get("bankAccount")) if "bankAccount" in data else None
        made, replayed = services.refund_request_make(user_id=request.user.id, bank_account=account,
                                                      idempotency=idempotency)
        return _refund_request_answer(made.id, request.user.id, replayed,
                                      202 if made.status == RefundRequestStatus.PROCESSING else 201)

    @extend_schema(operation_id="wallet_refund_requests_list", parameters=page_parameters(),
                   responses={200: page_serializer(RefundRequestOutputSerializer, "RefundRequestPage"),
                              **openapi.errors("RefundRequestList", *openapi.AUTHENTICATION, *openapi.PAGE)},
                   summary="The wallet's refund requests, newest first")
    def get(self, request):
        paginator = NewestFirstPagination()
        page = paginator.paginate_queryset(selectors.refund_requests(user_id=request.user.id), request, view=self)
        return paginator.get_paginated_response(RefundRequestOutputSerializer(page, many=True).data)


class RefundRequestAPI(APIView):
    @extend_schema(parameters=[OpenApiParameter("request_id", OpenApiTypes.UUID, OpenApiParameter.PATH)],
                   responses={200: RefundRequestOutputSerializer, **openapi.errors(
                       "RefundRequestRead", *openapi.AUTHENTICATION, WalletErrorCode.REFUND_REQUEST_NOT_FOUND)},
                   summary="A refund request, with its card refunds and payouts")
    def get(self, request, request_id: str):
        try:
            found = selectors.refund_request_get(user_id=request.user.id, request_id=uuid.UUID(request_id))
        except ValueError:
            found = None
        if found is None:
            raise wallet_error(WalletErrorCode.REFUND_REQUEST_NOT_FOUND, {"requestId": request_id[:64]})
        return Response(RefundRequestOutputSerializer(found).data)


class UserRefundRequestAPI(APIView):
    """An operator's grant of a remaining-balance refund on another ground than the used share (the service
    cannot be used, merchants cut, terms worsened): recorded as an operator action."""

    permission_classes = [IsAdminUser]
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="UserRefundRequestRequest")
    class InputSerializer(StrictInputSerializer):
        ground = serializers.ChoiceField(choices=[g for g in RefundGround.values if g != RefundGround.USED_SHARE])
        bankAccount = BankAccountSerializer(required=False)

    @extend_schema(
        request=InputSerializer,
        parameters=openapi.idempotency_parameters() + [OpenApiParameter("username", str, OpenApiParameter.PATH),
                                                       openapi.RETRY_AFTER],
        responses={201: RefundRequestOutputSerializer, 202: RefundRequestOutputSerializer, **openapi.errors(
            "UserRefundRequest", *openapi.AUTHENTICATION, *_STAFF, *openapi.BODY, *openapi.THROTTLED,
            *IDEMPOTENCY_ERRORS, *REFUND_REQUEST_ERRORS, WalletErrorCode.RECIPIENT_NOT_FOUND)},
        summary="Refund a user's remaining balance on an operator's ground; staff only")
    def post(self, request, username: str):
        data = validated(self.InputSerializer, request.data)
        user = selectors.recipient_get(username=username)
        if user is None:
            raise wallet_error(WalletErrorCode.RECIPIENT_NOT_FOUND, {"to": username})
        idempotency = idempotency_key_of(request)
        account = services.bank_account_check(request.data.get("bankAccount")) if "bankAccount" in data else None
        made, replayed = services.refund_request_make(user_id=user.id, bank_account=account, ground=data["ground"],
                                                      by=request.user, idempotency=idempotency)
        return _refund_request_answer(made.id, user.id, replayed,
                                      202 if made.status == RefundRequestStatus.PROCESSING else 201)


class UserTierAPI(APIView):
    """A user's verification tier, set by an operator or by the identity provider's hook (its service
    account is staff): what bounds the wallet's balance and daily transfers. Recorded as an operator action."""

    permission_classes = [IsAdminUser]
    throttle_classes = throttling.WRITES

    @extend_schema_serializer(component_name="UserTierRequest")
    class InputSerializer(StrictInputSerializer):
        tier = serializers.ChoiceField(choices=WalletTier.values)
        source = serializers.ChoiceField(choices=list(services.TIER_SOURCES), default="operator",
                                         help_text="Who decided: an operator (a reason is required) or the identity "
                                                   "provider (its reference is required).")
        reason = serializers.CharField(max_length=300, required=False, default="", allow_blank=True)
        reference = serializers.CharField(max_length=200, required=False, default="", allow_blank=True,
                                          help_text="The verification's id at the identity provider.")

        def validate(self, data):
            if data["source"] == "identity_provider" and not data["reference"].strip():
                raise serializers.ValidationError({"reference": [_("Required from the identity provider.")]})
            return data

    @extend_schema_serializer(component_name="UserTier")
    class OutputSerializer(serializers.Serializer):
        username = serializers.CharField()
        tier = serializers.ChoiceField(choices=WalletTier.values)
        previousTier = serializers.ChoiceField(choices=WalletTier.values)
        balanceMax = serializers.IntegerField()
        transferDailyMax = serializers.IntegerField()

    @extend_schema(
        request=InputSerializer,
        parameters=[OpenApiParameter("username", str, OpenApiParameter.PATH), openapi.RETRY_AFTER],
        responses={200: OutputSerializer, **openapi.errors(
            "UserTier", *openapi.AUTHENTICATION, *_STAFF, *openapi.BODY, *openapi.THROTTLED,
            WalletErrorCode.RECIPIENT_NOT_FOUND)},
        summary="Set a user's verification tier (operator, or the identity provider's hook); staff only")
    def put(self, request, username: str):
        data = validated(self.InputSerializer, request.data)
        user = selectors.recipient_get(username=username)
        if user is None:
            raise wallet_error(WalletErrorCode.RECIPIENT_NOT_FOUND, {"to": username})
        before, after = services.wallet_tier_set(user_id=user.id, tier=data["tier"], by=request.user,
                                                 source=data["source"], reason=data["reason"],
                                                 reference=data["reference"])
        limits = selectors.tier_limits()[after]
        return Response(self.OutputSerializer({
            "username": user.username, "tier": after, "previousTier": before, **limits}).data)
