import csv

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import BigIntegerField, F, Func
from django.http import HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from prepaid.admin import ReadOnlyAdmin, ReadOnlyInline
from prepaid.errors import ApplicationError
from prepaid.money import won
from wallets import services
from wallets.models import (
    CustodyReport,
    ExpiryNotice,
    Hold,
    IdempotencyRecord,
    Operation,
    OperationKind,
    Payment,
    Payout,
    ReconcileRun,
    Refund,
    RefundRequest,
    RefundRequestStatus,
    RefundStatus,
    Wallet,
    WalletTier,
)
from wallets.payments import PaymentGatewayUnavailable, payment_gateway


@admin.register(Wallet)
class WalletAdmin(ReadOnlyAdmin):
    """Balances change only through wallet operations, never by hand."""

    list_display = ("user", "tier", "balance", "held", "available", "currency", "updated_at")
    list_filter = ("tier",)
    search_fields = ("user__username", "user__id")
    list_select_related = ("user",)
    readonly_fields = ("user", "account", "tier", "currency", "balance", "held", "available", "created_at",
                       "updated_at")
    actions = ["tier_verified", "tier_unverified"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            held_now=Func(F("user_id"), function="wallet_held", output_field=BigIntegerField()))

    @admin.display(description=_("held (active holds)"))
    def held(self, wallet: Wallet) -> int:
        return wallet.held_now

    @admin.display(description=_("available"))
    def available(self, wallet: Wallet) -> int:
        return wallet.balance - wallet.held_now

    @admin.action(description=_("Set the tier: real-name verified (with a reason)"))
    def tier_verified(self, request, queryset):
        return self._tier_set(request, queryset, WalletTier.VERIFIED)

    @admin.action(description=_("Set the tier: unverified (with a reason)"))
    def tier_unverified(self, request, queryset):
        return self._tier_set(request, queryset, WalletTier.UNVERIFIED)

    def _tier_set(self, request, queryset, tier: str):
        wallets = queryset.select_related("user")
        if "confirm" not in request.POST:
            return TemplateResponse(request, "admin/wallets/wallet/tier_set.html", {
                **self.admin_site.each_context(request), "title": gettext("Set the verification tier"),
                "wallets": wallets, "tier": WalletTier(tier), "action": request.POST.get("action"),
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "opts": self.model._meta})
        for wallet in wallets[:100]:
            try:
                before, after = services.wallet_tier_set(user_id=wallet.user_id, tier=tier, by=request.user,
                                                         reason=request.POST.get("reason", ""))
            except ApplicationError as exc:
                self.message_user(request, f"{wallet.user}: {exc.message}", messages.WARNING)
            else:
                self.message_user(request, gettext("%(user)s: %(before)s → %(after)s") % {
                    "user": wallet.user, "before": WalletTier(before).label, "after": WalletTier(after).label},
                    messages.SUCCESS)
        return None


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    """Wallet operations: who moved what; the journal entry (its id) holds the postings."""

    list_display = ("entry", "kind", "user", "counterparty", "amount", "reverses", "order_id", "created_at")
    list_filter = ("kind", "created_at")
    search_fields = ("entry__id", "user__username", "user__id", "counterparty__username", "order_id", "payment_key")
    list_select_related = ("entry", "user", "counterparty", "reverses")
    readonly_fields = [f.name for f in Operation._meta.fields]
    actions = ["return_transfers"]

    @admin.action(description=_("Return transfers to their senders, with a reason"))
    def return_transfers(self, request, queryset):
        transfers = queryset.filter(kind=OperationKind.TRANSFER).select_related("user", "counterparty")
        if "confirm" not in request.POST:
            return TemplateResponse(request, "admin/wallets/operation/return_transfer.html", {
                **self.admin_site.each_context(request), "title": "Return transfers", "transfers": transfers,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "opts": self.model._meta})
        for transfer in transfers[:100]:
            try:
                returned = services.transfer_return_by_operator(transaction_id=transfer.pk,
                                                                reason=request.POST.get("reason", ""), by=request.user)
            except ApplicationError as exc:
                self.message_user(request, gettext("Transfer %(id)s: %(error)s") % {
                    "id": transfer.pk, "error": exc.message}, messages.WARNING)
            else:
                self.message_user(request, gettext("Transfer %(id)s: %(amount)s returned") % {
                    "id": transfer.pk, "amount": won(returned.transaction.amount)}, messages.SUCCESS)
        return None


class CaptureInline(ReadOnlyInline):
    model = Operation
    fk_name = "hold"
    fields = ("entry", "amount", "created_at")
    readonly_fields = fields
    verbose_name_plural = _("captures")


@admin.register(Hold)
class HoldAdmin(ReadOnlyAdmin):
    """Holds: money set aside (a client's, or a refund's on its way). Read-only: they change only
    through captures, voids and the expiry sweep."""

    list_display = ("id", "user", "purpose", "amount", "captured", "status", "expires_at", "created_at", "ended_at")
    list_filter = ("status", "purpose")
    search_fields = ("id", "user__username", "user__id")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Hold._meta.fields]
    inlines = [CaptureInline]


class RefundInline(ReadOnlyInline):
    model = Refund
    fields = ("reversal_id", "amount", "status", "gateway_transaction_key", "failure_code", "attempts", "created_at")
    readonly_fields = fields


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = ("order_id", "user", "amount", "status", "gateway", "attempts", "created_at")
    list_filter = ("status", "gateway")
    search_fields = ("order_id", "payment_key", "user__username", "user__id")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in Payment._meta.fields] + ["at_the_gateway"]
    inlines = [RefundInline]
    actions = ["look_up_at_the_gateway"]

    @admin.display(description=_("at the gateway (read now)"))
    def at_the_gateway(self, payment: Payment) -> str:
        try:
            found = payment_gateway(payment.gateway).payment(payment.payment_key)
        except PaymentGatewayUnavailable:
            return "the gateway did not answer"
        if found is None:
            return "no record there (the sandbox keeps none)"
        cancels = ", ".join(f"{c.amount:,} ({c.transaction_key})" for c in found.cancels) or "none"
        return (f"{found.status}: {found.total_amount:,} paid, {found.balance_amount:,} left; "
                f"order {found.order_id}; cancels: {cancels}")

    @admin.action(description=_("Look up at the gateway now, and settle what differs"))
    def look_up_at_the_gateway(self, request, queryset):
        for payment in queryset[:100]:
            try:
                outcome = services.payment_sync(payment_key=payment.payment_key, by=request.user)
            except ApplicationError as exc:
                self.message_user(request, gettext("Order %(order)s: %(error)s") % {
                    "order": payment.order_id, "error": exc.message}, messages.WARNING)
            else:
                self.message_user(request, gettext("Order %(order)s: %(outcome)s") % {
                    "order": payment.order_id, "outcome": outcome}, messages.INFO)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds of charges on the card (the reversal saga). REQUESTED ones hold money in the wallet
    until the gateway answers; UNCOVERED ones were cancelled at the gateway with the money spent."""

    list_display = ("reversal_id", "user", "payment", "amount", "status", "failure_code", "attempts", "created_at")
    list_filter = ("status",)
    search_fields = ("reversal_id", "payment__order_id", "payment__payment_key", "user__username")
    list_select_related = ("user", "payment")
    readonly_fields = [f.name for f in Refund._meta.fields]
    actions = ["ask_the_gateway_again"]

    @admin.action(description=_("Ask the gateway again now (requested refunds)"))
    def ask_the_gateway_again(self, request, queryset):
        for refund in queryset.filter(status=RefundStatus.REQUESTED)[:100]:
            outcome = services.refund_resume(refund_id=refund.id, by=request.user)
            self.message_user(request, gettext("Refund %(id)s: %(outcome)s") % {
                "id": refund.reversal_id, "outcome": outcome}, messages.INFO)


class PayoutInline(ReadOnlyInline):
    model = Payout
    fields = ("id", "amount", "from_expired", "status", "gateway_transaction_key", "failure_code", "attempts",
              "created_at")
    readonly_fields = fields


class RequestRefundInline(RefundInline):
    fk_name = "request"


@admin.register(RefundRequest)
class RefundRequestAdmin(ReadOnlyAdmin):
    """Remaining-balance refunds (잔액환불): what each set out to refund, its card refunds and payouts. A PROCESSING
    one waits for a gateway (recovery asks again); PARTIAL ones left money in the wallet (a card and the bank
    both refused): the user may ask again with another account."""

    list_display = ("id", "user", "ground", "status", "amount", "to_cards", "expired_refund", "created_at",
                    "completed_at")
    list_filter = ("status", "ground")
    search_fields = ("id", "user__username")
    list_select_related = ("user",)
    readonly_fields = [f.name for f in RefundRequest._meta.fields if f.name != "account_number"]
    exclude = ("account_number",)  # sealed: its mask is shown
    inlines = [RequestRefundInline, PayoutInline]
    actions = ["advance_now"]

    @admin.action(description=_("Ask the gateways again now (processing requests)"))
    def advance_now(self, request, queryset):
        for found in queryset.filter(status=RefundRequestStatus.PROCESSING)[:100]:
            advanced = services.refund_request_advance(request_id=found.id)
            self.message_user(request, gettext("Refund request %(id)s: %(status)s") % {
                "id": found.id, "status": advanced.status}, messages.INFO)


@admin.register(Payout)
class PayoutAdmin(ReadOnlyAdmin):
    """Payments to users' bank accounts, each part of a remaining-balance refund."""

    list_display = ("id", "user", "request", "amount", "from_expired", "status", "failure_code", "attempts",
                    "created_at")
    list_filter = ("status",)
    search_fields = ("id", "request__id", "user__username")
    list_select_related = ("user", "request")
    readonly_fields = [f.name for f in Payout._meta.fields]


@admin.register(ExpiryNotice)
class ExpiryNoticeAdmin(ReadOnlyAdmin):
    """The notices sent before a wallet's money expires (on every channel its user has on)."""

    list_display = ("user", "days_before", "amount", "expires_by", "created_at")
    search_fields = ("user__username",)
    list_select_related = ("user",)
    readonly_fields = [f.name for f in ExpiryNotice._meta.fields]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ("key", "user", "entry", "error_code", "created_at", "completed_at")
    search_fields = ("key", "user__username")
    list_select_related = ("user", "entry")
    readonly_fields = [f.name for f in IdempotencyRecord._meta.fields]


@admin.register(CustodyReport)
class CustodyReportAdmin(ReadOnlyAdmin):
    """The daily outstanding-balance reports (선불충전금): made from the ledger each day; an operator records
    what the trust account held (an action: the report itself is never edited), and exports them."""

    list_display = ("day", "outstanding", "charged", "used", "refunded", "use_reversed", "expired", "paid_out",
                    "books_agree", "custody_amount", "ratio", "custody_recorded_by")
    readonly_fields = [f.name for f in CustodyReport._meta.fields]
    date_hierarchy = "day"
    actions = ["record_custody", "export_csv", "make_again"]

    @admin.display(description=_("books agree"), boolean=True)
    def books_agree(self, report: CustodyReport) -> bool:
        return report.reconciled

    @admin.display(description=_("custody ratio"))
    def ratio(self, report: CustodyReport) -> str:
        return "" if report.custody_ratio is None else f"{report.custody_ratio:.2%}"

    @admin.action(description=_("Record what the trust account held (one day)"))
    def record_custody(self, request, queryset):
        reports = list(queryset[:2])
        if len(reports) != 1:
            self.message_user(request, gettext("Select one day."), messages.WARNING)
            return None
        report = reports[0]
        if "confirm" not in request.POST:
            return TemplateResponse(request, "admin/wallets/custodyreport/record_custody.html", {
                **self.admin_site.each_context(request), "title": gettext("Record the custody amount"),
                "report": report, "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME, "opts": self.model._meta})
        try:
            amount = int(request.POST.get("custody_amount", ""))
            services.custody_amount_record(day=report.day, amount=amount, by=request.user,
                                           note=request.POST.get("custody_note", ""))
        except (ValueError, ApplicationError) as exc:
            self.message_user(request, getattr(exc, "message", gettext("The amount must be whole won.")),
                              messages.ERROR)
            return None
        self.message_user(request, gettext("%(day)s: %(amount)s in custody recorded") % {
            "day": report.day, "amount": won(amount)}, messages.SUCCESS)
        return None

    @admin.action(description=_("Export as CSV"))
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="outstanding-balance.csv"'
        response.write("\ufeff")  # a BOM: Excel reads the file as UTF-8
        writer = csv.writer(response)
        writer.writerow(["day", "opening", "charged", "refunded", "used", "use_reversed", "expired", "paid_out",
                         "outstanding",
                         "difference", "custody_amount", "custody_ratio", "custody_recorded_by", "custody_note"])
        for r in queryset.order_by("day"):
            writer.writerow([r.day.isoformat(), r.opening, r.charged, r.refunded, r.used, r.use_reversed, r.expired,
                             r.paid_out,
                             r.outstanding, r.difference, "" if r.custody_amount is None else r.custody_amount,
                             "" if r.custody_ratio is None else f"{r.custody_ratio:.4f}", r.custody_recorded_by,
                             r.custody_note])
        return response

    @admin.action(description=_("Write again from the ledger"))
    def make_again(self, request, queryset):
        for report in queryset:
            services.custody_report_make(day=report.day)
        self.message_user(request, ngettext("Wrote %(count)d report again.", "Wrote %(count)d reports again.",
                                            queryset.count()) % {"count": queryset.count()}, messages.SUCCESS)


@admin.register(ReconcileRun)
class ReconcileRunAdmin(ReadOnlyAdmin):
    """The ledger's reconcile runs: the hourly incremental ones and operators' full passes (reconcile_ledger)."""

    list_display = ("id", "kind", "from_posting_id", "upto_posting_id", "postings_checked", "wallets_checked",
                    "mismatches", "started_at", "finished_at")
    list_filter = ("kind",)
    readonly_fields = [f.name for f in ReconcileRun._meta.fields]
