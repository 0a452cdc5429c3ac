"""The outstanding-balance report (선불충전금): a day's users' balances and flows from the ledger, adding up
and equal to the wallets' own balances; the custody an operator records, its ratio as a metric, the admin
page and its CSV export, the command."""

import datetime

import pytest
from django.core.management import call_command
from django.db.models import Sum
from django.utils import timezone

from accounts.models import OperatorAction
from tests.helpers import charge, staff_sign_in
from wallets import services
from wallets.metrics import PaymentCollector
from wallets.models import CustodyReport, Wallet

pytestmark = pytest.mark.django_db


@pytest.fixture
def a_day_of_money(user_factory):
    """Charges, spends, a card refund, a spend reversed, a transfer and a hold's capture, today."""
    minji, jiwoo = user_factory(), user_factory()
    first = charge(minji, 50_000)
    charge(jiwoo, 20_000)
    coffee = services.wallet_spend(user_id=minji.id, amount=4_500, description="커피").transaction
    services.wallet_spend(user_id=jiwoo.id, amount=1_000, description="껌")
    services.wallet_reverse(user_id=minji.id, transaction_id=first.id, amount=10_000, reason="부분 환불")  # a card
    services.wallet_reverse(user_id=minji.id, transaction_id=coffee.id, amount=500, reason="할인")  # back in
    services.wallet_transfer(user_id=minji.id, to=jiwoo.username, amount=3_000, message="점심")
    hold = services.hold_place(user_id=jiwoo.id, amount=2_000, description="주유", expires_in_s=600)
    services.hold_capture(user_id=jiwoo.id, hold_id=hold.hold.id, amount=1_500)
    return minji, jiwoo


def test_a_days_report_adds_up_and_equals_the_wallets(a_day_of_money):
    today = timezone.localdate()
    report = services.custody_report_make(day=today)
    assert (report.charged, report.refunded, report.used, report.use_reversed) == (70_000, 10_000, 7_000, 500)
    wallets = Wallet.objects.aggregate(total=Sum("balance"))["total"]
    assert report.outstanding == wallets == report.opening + 70_000 - 10_000 - 7_000 + 500
    assert report.difference == 0 and report.reconciled
    # The next day opens with what this one closed with, and nothing moved in it (yet).
    tomorrow = services.custody_report_make(day=today + datetime.timedelta(days=1))
    assert (tomorrow.opening, tomorrow.outstanding, tomorrow.charged, tomorrow.used) == (wallets, wallets, 0, 0)
    # A day before any money: nothing outstanding.
    assert services.custody_report_make(day=today - datetime.timedelta(days=400)).outstanding == 0
    # Written again, the same figures; one report a day.
    assert services.custody_report_make(day=today).outstanding == wallets
    assert CustodyReport.objects.filter(day=today).count() == 1


def test_the_custody_an_operator_records_is_kept_and_its_ratio_exported(a_day_of_money, staff_user):
    today = timezone.localdate()
    report = services.custody_report_make(day=today)
    services.custody_amount_record(day=today, amount=report.outstanding - 1_000, by=staff_user, note="신탁 잔액")
    report.refresh_from_db()
    assert report.custody_ratio == pytest.approx((report.outstanding - 1_000) / report.outstanding)
    assert OperatorAction.objects.get(action="custody_amount_record", target=f"custody_report:{today}").username \
        == staff_user.username
    services.custody_report_make(day=today)  # written again from the ledger: the custody record stays
    report.refresh_from_db()
    assert report.custody_amount == report.outstanding - 1_000 and report.custody_recorded_by == staff_user.username
    metrics = {m.name: m.samples[0].value for m in PaymentCollector().collect() if m.name.startswith("prepaid_cust")}
    assert metrics["prepaid_custody_ratio"] == pytest.approx(report.custody_ratio)
    assert metrics["prepaid_custody_recorded_age_days"] == 0
    with pytest.raises(services.ApplicationError) as refused:
        services.custody_amount_record(day=today, amount=-1, by=staff_user)
    assert refused.value.code == "invalid_input"


def test_the_admin_records_custody_and_exports_csv(a_day_of_money, client, staff_user):
    today = timezone.localdate()
    report = services.custody_report_make(day=today)
    staff_sign_in(client, staff_user)
    assert str(report.outstanding) in client.get("/admin/wallets/custodyreport/").content.decode().replace(",", "")
    asked = client.post("/admin/wallets/custodyreport/", {"action": "record_custody", "_selected_action": [report.pk]})
    assert asked.status_code == 200 and 'name="custody_amount"' in asked.content.decode()
    saved = client.post("/admin/wallets/custodyreport/", {
        "action": "record_custody", "_selected_action": [report.pk], "confirm": "yes",
        "custody_amount": str(report.outstanding), "custody_note": "수탁은행 잔액 증명"})
    assert saved.status_code == 302
    # The report itself is never edited in the admin (a money record), only recorded against.
    assert client.post(f"/admin/wallets/custodyreport/{report.pk}/change/", {"outstanding": "1"}).status_code == 403
    report.refresh_from_db()
    assert report.custody_ratio == 1.0 and report.custody_note == "수탁은행 잔액 증명"
    assert OperatorAction.objects.filter(action="custody_amount_record").count() == 1
    exported = client.post("/admin/wallets/custodyreport/", {"action": "export_csv", "_selected_action": [report.pk]})
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("day,opening,charged,refunded,used,use_reversed,expired,paid_out,outstanding")
    assert lines[1].startswith(f"{today.isoformat()},{report.opening},70000,10000,7000,500,0,0,{report.outstanding},0,")


def test_the_command_prints_the_days_report(a_day_of_money, capsys):
    call_command("custody_report", day=timezone.localdate())
    out = capsys.readouterr().out
    assert "charged 70,000" in out and "used 7,000" in out
