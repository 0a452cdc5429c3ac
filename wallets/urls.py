from django.urls import path

from wallets import apis

urlpatterns = [
    path("wallet", apis.WalletAPI.as_view(), name="wallet"),
    path("wallet/transactions", apis.TransactionListAPI.as_view(), name="wallet-transactions"),
    path("wallet/charges", apis.ChargeAPI.as_view(), name="wallet-charges"),
    path("wallet/charge-orders", apis.ChargeOrderAPI.as_view(), name="wallet-charge-orders"),
    path("wallet/spends", apis.SpendAPI.as_view(), name="wallet-spends"),
    path("wallet/reversals", apis.ReversalAPI.as_view(), name="wallet-reversals"),
    path("payments/toss/webhook", apis.TossWebhookAPI.as_view(), name="payments-toss-webhook"),
]
