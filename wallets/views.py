"""The wallet page for browser users (session login)."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from ledger.models import EntryKind
from notifications.selectors import notification_feed
from prepaid.money import CURRENCY
from wallets.selectors import wallet_get, wallet_transactions

PAGE_ITEMS = 20


@login_required
@ensure_csrf_cookie
def wallet_page(request):
    user_id = request.user.id
    wallet = wallet_get(user_id=user_id)
    transactions = list(wallet_transactions(user_id=user_id)[:PAGE_ITEMS])
    feed = notification_feed(user_id=user_id, limit=PAGE_ITEMS)
    context = {
        "balance": wallet.balance if wallet else 0,
        "currency": CURRENCY,
        "transactions": transactions,
        "reversible": [t for t in transactions if t.kind != EntryKind.REVERSAL and t.reversed_amount < t.amount],
        "notifications": feed.notifications,
        "unread_count": feed.unread_count,
        # Without it a first connect would start from "now" as the server sees it: events
        # sent between rendering the page and connecting would be missed.
        "stream_position": feed.stream_position,
        "amount_max": settings.WALLET_AMOUNT_MAX,
    }
    return render(request, "wallets/page.html", context)
