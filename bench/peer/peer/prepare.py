"""Users with a token and a funded hordak wallet account each: prints "<Authorization> - <username>" lines,
the format bench/api_mix.lua reads."""

import sys

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from djmoney.money import Money  # noqa: E402
from hordak.models import Account, AccountType  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from peer.views import MERCHANT  # noqa: E402

count = int(sys.argv[1])
Account.objects.get_or_create(name=MERCHANT, defaults={"type": AccountType.liability, "currencies": ["KRW"]})
cash, _ = Account.objects.get_or_create(name="cash", defaults={"type": AccountType.asset, "currencies": ["KRW"]})
for i in range(count):
    user, _ = User.objects.get_or_create(username=f"peer-{i}")
    token, _ = Token.objects.get_or_create(user=user)
    wallet, created = Account.objects.get_or_create(
        name=f"wallet-{user.pk}", defaults={"type": AccountType.liability, "currencies": ["KRW"]})
    if created:
        wallet.transfer_to(cash, Money(100_000_000, "KRW"), description="funding")  # both grow
    print(f"Token {token.key} - {user.username}")
