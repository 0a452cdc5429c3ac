"""Order first, then pay: a charge order, the checkout (Toss's widget or the sandbox's page), and the
return to successUrl, where the charge is confirmed for this user, this order and this amount only."""

from urllib.parse import parse_qs, urlparse

import pytest

from tests.fake_toss import CLIENT_KEY
from tests.helpers import balance_of
from wallets.models import ChargeOrder, Payment

pytestmark = pytest.mark.django_db

ORDERS = "/api/v1/wallet/charge-orders"


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


def order_for(api, amount=10_000):
    answer = api.post(ORDERS, {"amount": amount}, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def test_a_charge_order_tells_the_checkout_what_it_needs(api, user, user_factory, api_client_for):
    order = order_for(api, 10_000)
    assert order["amount"] == 10_000 and order["currency"] == "KRW" and order["gateway"] == "sandbox"
    assert order["orderName"] == "지갑 충전 10,000원"
    assert order["successUrl"].endswith("/wallet/charge/success") and order["failUrl"].endswith("/wallet/charge/fail")
    assert order["checkoutUrl"] == f"/wallet/charge/checkout?orderId={order['orderId']}"
    again, someone_else = order_for(api), order_for(api_client_for(user_factory()))
    assert order["customerKey"] == again["customerKey"] != someone_else["customerKey"]  # per user, from a secret
    assert again["orderId"] != order["orderId"]
    assert ChargeOrder.objects.get(order_id=order["orderId"]).user == user


def test_an_order_over_the_balance_cap_is_refused(api, settings):
    settings.WALLET_BALANCE_MAX_UNVERIFIED_WON = 50_000
    answer = api.post(ORDERS, {"amount": 50_001}, format="json")
    assert answer.status_code == 422 and answer.json()["code"] == "balance_limit_exceeded"
    assert not ChargeOrder.objects.exists()


def test_the_sandbox_checkout_pays_and_the_return_credits_once(api, browser, user):
    order = order_for(api, 7_000)
    page = browser.get(order["checkoutUrl"])
    assert page.status_code == 200 and "₩7,000" in page.content.decode()
    pay_url = page.context["pay_url"]
    assert browser.get(pay_url).url == "/"
    assert browser.get(pay_url).url == "/"  # reloaded: the same answer, charged once
    assert balance_of(user.id) == 7_000
    assert Payment.objects.get(order_id=order["orderId"]).amount == 7_000


def test_a_tampered_amount_on_the_return_never_reaches_the_gateway(api, browser, user):
    order = order_for(api, 1_000)
    pay_url = urlparse(browser.get(order["checkoutUrl"]).context["pay_url"])
    query = {k: v[0] for k, v in parse_qs(pay_url.query).items()}
    answer = browser.get(pay_url.path, {**query, "amount": "100000"})
    assert answer.status_code == 422 and "주문 금액은 ₩1,000" in answer.content.decode()
    assert not Payment.objects.exists() and balance_of(user.id) == 0


def test_another_users_order_is_not_found(api, browser, user_factory, api_client_for):
    other = order_for(api_client_for(user_factory()), 1_000)
    assert browser.get(other["checkoutUrl"]).status_code == 404
    answer = browser.get("/wallet/charge/success", {"orderId": other["orderId"], "amount": 1_000,
                                                    "paymentKey": "sandbox-x"})
    assert answer.status_code == 404 and not Payment.objects.exists()


def test_a_cancelled_checkout_says_so_and_charges_nothing(api, browser, user):
    order = order_for(api, 1_000)
    page = browser.get(browser.get(order["checkoutUrl"]).context["cancel_url"])
    assert page.status_code == 200 and "PAY_PROCESS_CANCELED" in page.content.decode()
    assert balance_of(user.id) == 0


def test_with_toss_the_widget_gets_the_client_key_and_the_return_confirms_at_toss(api, browser, user, toss):
    order = order_for(api, 12_000)
    assert (order["gateway"], order["clientKey"], order["checkoutUrl"]) == ("toss", CLIENT_KEY, "")
    payment_key = toss.authorize(order_id=order["orderId"], amount=12_000)  # paid in Toss's widget
    answer = browser.get("/wallet/charge/success", {"paymentKey": payment_key, "orderId": order["orderId"],
                                                    "amount": 12_000})
    assert answer.status_code == 302
    assert toss.payments[payment_key]["status"] == "DONE" and balance_of(user.id) == 12_000
    assert browser.get(order["checkoutUrl"] or "/wallet/charge/checkout").status_code == 404  # no sandbox page

