"""Every text a user reads about a wallet event, in one place, in the user's language.

The source strings are English (gettext's msgids); Korean, the default, is in
``locale/ko/LC_MESSAGES/django.po``. A text is rendered once, when its event is consumed,
in the language its user chose (accounts.selectors.user_languages).
"""

import dataclasses
import datetime

from django.conf import settings
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from prepaid.money import won


@dataclasses.dataclass(frozen=True)
class Rendered:
    title: str
    message: str
    type: str
    language: str = settings.LANGUAGE_CODE  # what it is written in (a channel's frame follows it)


def _with_note(note: str) -> str:
    return _(" (%(note)s)") % {"note": note} if note else ""


def _korean_date(stamp: str) -> str:
    """An event's UTC time as the day it is in Korea (KST, the project's TIME_ZONE)."""
    moment = datetime.datetime.fromisoformat(stamp)
    return date_format(timezone.localtime(moment), "DATE_FORMAT")


def render(event: dict, language: str | None = None) -> Rendered:
    """The notification for a (schema-valid) wallet event, in ``language`` (default: ``LANGUAGE_CODE``)."""
    language = language or settings.LANGUAGE_CODE
    with translation.override(language):
        return dataclasses.replace(_render(event), language=language)


def _render(event: dict) -> Rendered:
    event_type = event["eventType"]
    balance = won(event["newBalance"])
    if event_type == "CHARGE_COMPLETED":
        return Rendered(_("Charged"), _("%(amount)s has been charged. Balance: %(balance)s") % {
            "amount": won(event["amount"]), "balance": balance}, "success")
    if event_type == "SPEND_COMPLETED":
        return Rendered(_("Spent"), _("%(amount)s has been spent%(note)s. Balance: %(balance)s") % {
            "amount": won(event["amount"]), "note": _with_note(event["description"]), "balance": balance}, "info")
    if event_type == "REVERSAL_COMPLETED":
        return Rendered(_("Reversed"), _("%(amount)s has been reversed%(note)s. Balance: %(balance)s") % {
            "amount": won(event["reversedAmount"]), "note": _with_note(event["reason"]), "balance": balance},
            "info")
    returned = "returnedTransactionId" in event.get("metadata", {})
    if event_type == "TRANSFER_SENT":
        text = (_("You sent %(amount)s back to %(name)s%(note)s. Balance: %(balance)s") if returned
                else _("You sent %(amount)s to %(name)s%(note)s. Balance: %(balance)s"))
        return Rendered(_("Money sent"), text % {
            "name": event["counterparty"], "amount": won(event["amount"]), "note": _with_note(event["message"]),
            "balance": balance}, "info")
    if event_type == "TRANSFER_RECEIVED":
        if returned:
            title, text = _("Money returned"), _("%(name)s sent %(amount)s back to you%(note)s. Balance: %(balance)s")
        else:
            title, text = _("Money received"), _("%(name)s sent you %(amount)s%(note)s. Balance: %(balance)s")
        return Rendered(title, text % {
            "name": event["counterparty"], "amount": won(event["amount"]), "note": _with_note(event["message"]),
            "balance": balance}, "success")
    if event_type == "HOLD_PLACED":
        return Rendered(_("Payment on hold"), _("%(amount)s is on hold%(note)s. Available: %(available)s") % {
            "amount": won(event["amount"]), "note": _with_note(event["description"]),
            "available": won(event["availableBalance"])}, "info")
    if event_type == "HOLD_CAPTURED":
        return Rendered(_("Payment captured"),
                        _("%(amount)s of the held money has been paid%(note)s. Balance: %(balance)s") % {
                            "amount": won(event["amount"]), "note": _with_note(event["description"]),
                            "balance": balance}, "info")
    if event_type == "HOLD_RELEASED":
        text = (_("%(amount)s on hold has been released (expired). Available: %(available)s")
                if event["reason"] == "expired"
                else _("%(amount)s on hold has been released (voided). Available: %(available)s"))
        return Rendered(_("Hold released"), text % {
            "amount": won(event["releasedAmount"]), "available": won(event["availableBalance"])}, "success")
    if event_type == "REFUND_REQUESTED":
        return Rendered(_("Refund requested"), _(
            "Refund of %(amount)s requested: %(cards)s back to your cards, %(bank)s to your bank account. "
            "Balance: %(balance)s") % {
            "amount": won(event["amount"] + event["expiredRefund"]), "cards": won(event["toCards"]),
            "bank": won(event["toBank"] + event["expiredRefund"]), "balance": balance}, "info")
    if event_type == "PAYOUT_COMPLETED":
        return Rendered(_("Paid to your bank account"), _(
            "%(amount)s has been paid to your account %(account)s. Balance: %(balance)s") % {
            "amount": won(event["amount"]), "account": event["accountNumber"], "balance": balance}, "success")
    if event_type == "REFUND_REQUEST_COMPLETED":
        if event["status"] == "COMPLETED":
            return Rendered(_("Refund completed"), _(
                "Your refund is complete: %(cards)s to your cards, %(bank)s to your bank account. "
                "Balance: %(balance)s") % {
                "cards": won(event["refundedToCards"]), "bank": won(event["paidOut"]), "balance": balance}, "success")
        return Rendered(_("Refund partly completed"), _(
            "%(refunded)s has been refunded; %(left)s could not be and stays in your wallet. Balance: %(balance)s") % {
            "refunded": won(event["refundedToCards"] + event["paidOut"]), "left": won(event["leftInWallet"]),
            "balance": balance}, "error")
    if event_type == "BALANCE_EXPIRY_NOTICE":
        return Rendered(_("Balance expiring soon"), _(
            "%(amount)s of your balance expires by %(date)s unless you use it. Balance: %(balance)s") % {
            "amount": won(event["amount"]), "date": _korean_date(event["expiresBy"]), "balance": balance}, "info")
    if event_type == "BALANCE_EXPIRED":
        return Rendered(_("Balance expired"), _(
            "%(amount)s of your balance has expired; %(percent)s%% of it can be refunded until %(date)s. "
            "Balance: %(balance)s") % {
            "amount": won(event["amount"]), "percent": event["refundablePercent"],
            "date": _korean_date(event["refundableUntil"]), "balance": balance}, "info")
    raise ValueError(f"no notification text for event type {event_type!r}")
