from django.urls import path

from wallets import apis

urlpatterns = [
    path("wallet", apis.WalletAPI.as_view(), name="wallet"),
    path("wallet/transactions", apis.TransactionListAPI.as_view(), name="wallet-transactions"),
    path("wallet/statement", apis.StatementAPI.as_view(), name="wallet-statement"),
    path("wallet/charges", apis.ChargeAPI.as_view(), name="wallet-charges"),
    path("wallet/charge-orders", apis.ChargeOrderAPI.as_view(), name="wallet-charge-orders"),
    path("wallet/spends", apis.SpendAPI.as_view(), name="wallet-spends"),
    path("wallet/reversals", apis.ReversalAPI.as_view(), name="wallet-reversals"),
    path("wallet/transfers", apis.TransferAPI.as_view(), name="wallet-transfers"),
    path("wallet/recipients/<str:username>", apis.RecipientAPI.as_view(), name="wallet-recipient"),
    path("wallet/holds", apis.HoldsAPI.as_view(), name="wallet-holds"),
    path("wallet/holds/<str:hold_id>", apis.HoldAPI.as_view(), name="wallet-hold"),
    path("wallet/holds/<str:hold_id>/captures", apis.HoldCaptureAPI.as_view(), name="wallet-hold-captures"),
    path("wallet/holds/<str:hold_id>/void", apis.HoldVoidAPI.as_view(), name="wallet-hold-void"),
    path("wallet/batches", apis.BatchAPI.as_view(), name="wallet-batches"),
    path("wallet/refund-requests", apis.RefundRequestsAPI.as_view(), name="wallet-refund-requests"),
    path("wallet/refund-requests/<str:request_id>", apis.RefundRequestAPI.as_view(), name="wallet-refund-request"),
    path("users/<str:username>/refund-requests", apis.UserRefundRequestAPI.as_view(), name="user-refund-requests"),
    path("users/<str:username>/tier", apis.UserTierAPI.as_view(), name="user-tier"),
    path("payments/toss/webhook", apis.TossWebhookAPI.as_view(), name="payments-toss-webhook"),
]
