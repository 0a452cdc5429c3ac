"""The wallet page for browser users (session login), and the checkout's pages: where Toss's widget
(or, with the sandbox gateway, a local page that behaves like it) sends the browser back."""

import uuid
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.csrf import ensure_csrf_cookie

from notifications.channels import CHANNELS
from notifications.selectors import notification_feed, notification_preference_get
from prepaid.errors import ApplicationError
from prepaid.events import EventType
from prepaid.money import CURRENCY
from wallets import services
from wallets.payments import payment_gateway
from wallets.selectors import charge_order_get, wallet_get, wallet_transactions

PAGE_ITEMS = 20

# An operation's type as people read it (the API's value is the enum's).
KIND_LABELS = {
    "CHARGE": gettext_lazy("Charge"), "SPEND": gettext_lazy("Spend"), "REVERSAL": gettext_lazy("Reversal"),
    "TRANSFER": gettext_lazy("Transfer"), "CAPTURE": gettext_lazy("Payment"),
    "PAYOUT": gettext_lazy("Refund to bank account"), "EXPIRY": gettext_lazy("Expired"),
}


def _page_texts() -> dict:
    """What the page's script writes itself (wallet.js), in the page's language."""
    return {
        "kinds": {kind: str(label) for kind, label in KIND_LABELS.items()},
        "live": _("live"), "reconnecting": _("reconnecting…"),
        "reconnectingIn": _("reconnecting in %(seconds)s s…"), "streamError": _("stream error: %(error)s"),
        "unread": _("%(count)s unread"), "saved": _("Saved."), "networkError": _("Network error: %(error)s"),
        "error": _("Error %(status)s"), "from": _("from %(name)s"), "to": _("to %(name)s"),
        "nothingToReverse": _("nothing to reverse"), "noTransactions": _("No transactions yet."),
        "checkoutUnavailable": _("Toss Payments' checkout could not be loaded"),
    }


@login_required
@ensure_csrf_cookie
def wallet_page(request):
    user_id = request.user.id
    wallet = wallet_get(user_id=user_id)
    transactions = wallet_transactions(user_id=user_id).first(PAGE_ITEMS)
    for t in transactions:
        t.kind_label = KIND_LABELS.get(t.kind, t.kind)
    feed = notification_feed(user_id=user_id, limit=PAGE_ITEMS)
    context = {
        "balance": wallet.balance if wallet else 0,
        "currency": CURRENCY,
        "transactions": transactions,
        "reversible": [t for t in transactions if t.reversible_amount > 0],
        "notifications": feed.notifications,
        "unread_count": feed.unread_count,
        # Without it a first connect would start from "now" as the server sees it: events
        # sent between rendering the page and connecting would be missed.
        "stream_position": feed.stream_position,
        "amount_max": settings.WALLET_AMOUNT_MAX,
        "preference": notification_preference_get(user_id=user_id),
        "channels": CHANNELS,
        "event_types": list(EventType),
        "statements": _statement_months(),
        "page_texts": _page_texts(),
    }
    return render(request, "wallets/page.html", context)


def _statement_months() -> list[dict]:
    """This month's and last month's statement periods (Korean time), for the page's links."""
    today = timezone.localdate()
    this_first = today.replace(day=1)
    last_last = this_first - timedelta(days=1)
    return [{"label": _("this month"), "first": this_first, "last": today},
            {"label": _("last month"), "first": last_last.replace(day=1), "last": last_last}]


@login_required
def sandbox_checkout(request):
    """The sandbox gateway's checkout: pay or cancel, and come back as Toss's widget would."""
    if payment_gateway().name != "sandbox":
        raise Http404("the sandbox checkout is for the sandbox gateway only")
    order = charge_order_get(user_id=request.user.id, order_id=request.GET.get("orderId", ""))
    if order is None:
        raise Http404("no such charge order of yours")
    paid = urlencode({"paymentKey": f"sandbox-{uuid.uuid4().hex}", "orderId": order.order_id, "amount": order.amount})
    cancelled = urlencode({"code": "PAY_PROCESS_CANCELED", "message": "사용자에 의해 결제가 취소되었습니다.",
                           "orderId": order.order_id})
    return render(request, "wallets/sandbox_checkout.html", {
        "order": order, "pay_url": f"{reverse('charge-success')}?{paid}",
        "cancel_url": f"{reverse('charge-fail')}?{cancelled}",
    })


@login_required
def charge_success(request):
    """The checkout paid: confirm for this user, order and amount, then back to the wallet."""
    params = request.GET
    try:
        amount = int(params.get("amount", ""))
    except ValueError:
        return render(request, "wallets/charge_result.html", {"message": "amount: " + _("missing or not a number")},
                      status=400)
    try:
        services.charge_order_confirm(user_id=request.user.id, order_id=params.get("orderId", ""),
                                      payment_key=params.get("paymentKey", "")[:200], amount=amount)
    except ApplicationError as exc:
        return render(request, "wallets/charge_result.html", {"message": exc.message, "code": exc.code},
                      status=exc.code.http_status)
    return redirect(reverse("wallet-page"))


@login_required
def charge_fail(request):
    """The checkout did not pay (cancelled by the customer, or refused): nothing was charged."""
    return render(request, "wallets/charge_result.html", {
        "message": request.GET.get("message", "")[:300] or _("The payment was not completed."),
        "code": request.GET.get("code", "")[:64],
    })
