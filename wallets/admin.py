from django.contrib import admin

from prepaid.admin import ReadOnlyAdmin
from wallets.models import IdempotencyRecord, Payment, Wallet


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    """Balances change only through wallet operations, never by hand."""

    list_display = ("user", "balance", "currency", "updated_at")
    search_fields = ("user__username", "=user__id")
    list_select_related = ("user",)
    readonly_fields = ("user", "account", "currency", "balance", "created_at", "updated_at")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "user", "amount", "status", "gateway", "attempts", "created_at")
    list_filter = ("status", "gateway")
    search_fields = ("=order_id", "=payment_key", "user__username", "=user__id")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Payment._meta.fields]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("key", "user", "entry", "error_code", "created_at", "completed_at")
    search_fields = ("=key", "user__username")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]
