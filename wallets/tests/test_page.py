"""The wallet page: the transfer form, the statements it offers, and transfers in its table."""

import datetime

import pytest
from django.utils import timezone

from tests.helpers import charge
from wallets import services

pytestmark = pytest.mark.django_db


def test_the_page_offers_this_and_last_months_statements_and_a_transfer_form(client, user_factory):
    user, friend = user_factory(), user_factory()
    charge(user, 10_000)
    services.wallet_transfer(user_id=user.id, to=friend.username, amount=2_500, message="커피")
    client.force_login(user)
    page = client.get("/").content.decode()
    today = timezone.localdate()
    first = today.replace(day=1)
    last_month_end = first - datetime.timedelta(days=1)
    assert f"/api/v1/wallet/statement?from={first:%Y-%m-%d}&amp;to={today:%Y-%m-%d}&amp;format=csv" in page
    assert (f"/api/v1/wallet/statement?from={last_month_end.replace(day=1):%Y-%m-%d}"
            f"&amp;to={last_month_end:%Y-%m-%d}&amp;format=csv") in page
    assert 'id="transfer-form" data-endpoint="/api/v1/wallet/transfers"' in page
    assert f"{friend.username}님에게: 커피" in page
    client.force_login(friend)
    assert f"{user.username}님에게서: 커피" in client.get("/").content.decode()
    # The link works for the session that shows it.
    client.force_login(user)
    csv = client.get(f"/api/v1/wallet/statement?from={first:%Y-%m-%d}&to={today:%Y-%m-%d}&format=csv")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbf")
