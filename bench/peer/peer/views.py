"""The peer's spend: the wallet account locked, its balance read, the amount moved to the merchant."""

from django.db import transaction
from djmoney.money import Money
from hordak.models import Account
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

MERCHANT = "merchant-settlement"


class SpendSerializer(serializers.Serializer):
    amount = serializers.IntegerField(min_value=1)
    description = serializers.CharField(max_length=200)


class SpendView(APIView):
    def post(self, request):
        data = SpendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        amount = Money(data.validated_data["amount"], "KRW")
        with transaction.atomic():
            wallet = Account.objects.select_for_update().get(name=f"wallet-{request.user.pk}")
            balance = wallet.get_balance()["KRW"]
            if balance < amount:
                return Response({"code": "insufficient_funds"}, status=409)
            merchant = Account.objects.get(name=MERCHANT)
            entry = merchant.transfer_to(wallet, amount, description=data.validated_data["description"])
        return Response({"transactionId": str(entry.uuid), "amount": data.validated_data["amount"],
                         "newBalance": (balance - amount).amount}, status=201)
