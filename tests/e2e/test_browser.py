"""The wallet page in a real headless browser (Debian's chromium driven by Playwright)."""

import concurrent.futures
import shutil
import threading

import pytest
from django.db import connection
from playwright.sync_api import expect, sync_playwright

from notifications.models import Notification
from tests.helpers import new_order_id
from tests.support import wait_until
from wallets import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def minji(platform, django_user_model):
    # Made before the browser starts: Playwright's sync API runs an event loop, where the ORM may not run.
    return django_user_model.objects.create_user(username="minji", password="correct horse battery")


@pytest.fixture
def page(minji, tmp_path):
    if not shutil.which("chromium"):
        pytest.fail("chromium is missing: `make tools` installs it (Debian package chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # A Korean user's browser (Accept-Language: ko-KR); fonts-noto-cjk shows its Hangul in the screenshot.
        context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="ko-KR")
        page = context.new_page()
        # Every page runs under the content security policy: what it blocks, Chromium says on the console.
        page.csp_violations = []
        page.on("console", lambda message: page.csp_violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        yield page
        page.screenshot(path=str(tmp_path / "wallet.png"), full_page=True)
        browser.close()
        assert page.csp_violations == [] or getattr(page, "csp_violations_expected", False), page.csp_violations


def test_log_in_charge_and_see_the_toast_and_the_new_balance(platform, page):
    page.goto(f"{platform.base_url}/")
    expect(page).to_have_url(f"{platform.base_url}/accounts/login/?next=/")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("#balance")).to_have_text("₩0")
    expect(page.locator("#stream-status")).to_have_text("실시간", timeout=15_000)
    # Korean: the page, and its script's own words.
    assert page.locator("html").get_attribute("lang") == "ko"
    expect(page.locator(".balance-card h2")).to_have_text("잔액")
    expect(page.locator("#transactions")).to_contain_text("아직 거래가 없습니다.")

    # Charge: an order first, then the (sandbox's) checkout, then back to the wallet, confirmed.
    page.fill("#charge-form input[name=amount]", "10000")
    page.click("#charge-form button")
    expect(page.locator("#order-amount")).to_have_text("₩10,000")
    page.click("#pay")
    expect(page).to_have_url(f"{platform.base_url}/")
    expect(page.locator("#balance")).to_have_text("₩10,000")
    expect(page.locator("#stream-status")).to_have_text("실시간", timeout=15_000)
    # Its notification: listed (with a toast if it came after the page), once.
    charged = page.locator("#notifications li", has_text="₩10,000가 충전되었습니다")
    expect(charged).to_have_count(1, timeout=15_000)

    page.fill("#spend-form input[name=amount]", "2500")
    page.fill("#spend-form input[name=description]", "커피")
    page.click("#spend-form button")
    expect(page.locator("#toasts .toast", has_text="사용 완료")).to_contain_text(
        "₩2,500가 사용되었습니다 (커피). 현재 잔액: ₩7,500", timeout=15_000)
    expect(page.locator("#balance")).to_have_text("₩7,500")
    # The form's own answer is in (its row added, the form reset): the toast can come before it.
    expect(page.locator("#transactions tr", has_text="커피")).to_have_count(1)
    expect(page.locator("#spend-form button")).to_be_enabled()

    page.fill("#spend-form input[name=amount]", "999999")
    page.fill("#spend-form input[name=description]", "too much")
    page.click("#spend-form button")
    expect(page.locator("#spend-form .form-error")).to_contain_text("amount:")
    assert page.locator("#toasts .toast", has_text="충전 완료").count() <= 1  # no duplicate toast
    expect(charged).to_have_count(1)

    # Both notifications are unread until the user says otherwise, also after a reload.
    expect(page.locator("#unread-count")).to_have_text("읽지 않음 2건")
    page.click("#mark-read")
    expect(page.locator("#unread-count")).to_be_hidden()
    expect(page.locator("#notifications li.unread")).to_have_count(0)
    page.reload()
    expect(page.locator("#notifications li")).to_have_count(2)
    expect(page.locator("#unread-count")).to_be_hidden()

    # English by the user's choice: the page, and what the script writes (times stay Korean time).
    page.click("#language-form button[value=en]")
    expect(page.locator(".balance-card h2")).to_have_text("Balance")
    expect(page.locator("#stream-status")).to_have_text("live", timeout=15_000)
    expect(page.locator("#transactions tr", has_text="커피").locator(".tag")).to_have_text("Spend")
    page.click("#language-form button[value=ko]")
    expect(page.locator(".balance-card h2")).to_have_text("잔액")


def test_the_page_resumes_after_a_dropped_connection_and_misses_nothing(platform, minji, page):
    page.goto(f"{platform.base_url}/accounts/login/?next=/")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("#stream-status")).to_have_text("실시간", timeout=15_000)

    platform.pushpin.stop()  # the stream drops: the proxy that held it is gone
    expect(page.locator("#stream-status")).to_have_text("다시 연결 중…", timeout=15_000)

    def charge_elsewhere(amount: int = 30_000, notified: int = 1):
        # Meanwhile a charge is made elsewhere, and its notification stored. (In a thread of
        # its own: the ORM does not run inside Playwright's event loop.)
        try:
            services.wallet_charge(user_id=minji.id, amount=amount, payment_key="pk", order_id=new_order_id())
            wait_until(lambda: Notification.objects.filter(user=minji).count() == notified, timeout_s=60,
                       what="the notification")
        finally:
            connection.close()  # a thread's connection is not closed for it

    helper = threading.Thread(target=charge_elsewhere)
    helper.start()
    helper.join()
    assert page.locator("#toasts .toast").count() == 0

    platform.pushpin.start()  # the browser reconnects by itself, with Last-Event-ID
    expect(page.locator("#toasts .toast").first).to_contain_text(
        "₩30,000가 충전되었습니다. 현재 잔액: ₩30,000", timeout=30_000)
    expect(page.locator("#balance")).to_have_text("₩30,000")
    expect(page.locator("#stream-status")).to_have_text("실시간")
    # The transactions table follows the toasts: the charge made elsewhere is listed, once.
    charge_row = page.locator("#transactions tr", has_text="₩30,000")
    expect(charge_row).to_have_count(1, timeout=15_000)
    expect(charge_row.locator(".tag")).to_have_text("충전")

    # The next charge is the signal that nothing else is coming: its notification is listed
    # after the first, and the first is listed once.
    helper = threading.Thread(target=charge_elsewhere, kwargs={"amount": 1_000, "notified": 2})
    helper.start()
    helper.join()
    expect(page.locator("#notifications li").first).to_contain_text("현재 잔액: ₩31,000", timeout=30_000)
    assert page.locator("#notifications li", has_text="₩30,000가 충전되었습니다").count() == 1


def test_the_page_reopens_its_stream_when_a_reconnection_is_answered_with_an_error(platform, minji, page):
    """EventSource gives up for good when its reconnection gets an error status (the proxy's 502 while
    Django restarts); the page must not: it opens the stream again, from the last event it showed."""
    page.goto(f"{platform.base_url}/accounts/login/?next=/")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("#stream-status")).to_have_text("실시간", timeout=15_000)

    platform.web.stop()  # Django is down: Pushpin answers a new stream with 502
    platform.pushpin.stop()  # and the stream drops, so the browser reconnects into that 502
    platform.pushpin.start()
    expect(page.locator("#stream-status")).to_contain_text("초 뒤 다시 연결", timeout=30_000)
    platform.start_web()

    def charge_elsewhere():
        try:
            services.wallet_charge(user_id=minji.id, amount=20_000, payment_key="pk", order_id=new_order_id())
        finally:
            connection.close()

    helper = threading.Thread(target=charge_elsewhere)
    helper.start()
    helper.join()
    expect(page.locator("#toasts .toast").first).to_contain_text(
        "₩20,000가 충전되었습니다. 현재 잔액: ₩20,000", timeout=60_000)
    expect(page.locator("#stream-status")).to_have_text("실시간")


def test_the_page_fills_a_gap_in_its_stream_from_storage(platform, minji, page):
    """Two events stored, only the second reaches the stream, and Pushpin cannot tell (its previous id
    is the stream's last): the page sees its ids jump, reopens the stream from the last event it
    showed, and shows both, in order. (The chaos run once saw a connected browser miss two events
    for good after a Pushpin restart raced its resubscription; see docs/reliability.md.)"""
    import json

    import httpx
    from django.conf import settings

    from notifications.sse import _publish_item, sse_events_store

    page.goto(f"{platform.base_url}/accounts/login/?next=/")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("#stream-status")).to_have_text("실시간", timeout=15_000)

    def store_two_push_one():
        try:
            from django.db import transaction

            datas = [{"eventId": f"00000000-0000-4000-8000-00000000000{n}", "eventType": "CHARGE_COMPLETED",
                      "title": "충전 완료", "message": f"gap test {n}", "type": "success", "balance": n,
                      "createdAt": "2026-11-29T10:00:00+09:00"} for n in (1, 2)]
            with transaction.atomic():
                seqs = sse_events_store([(minji.id, data) for data in datas])
            item = _publish_item(minji.id, seqs[1], json.dumps(datas[1], ensure_ascii=False))
            item["prev-id"] = str(seqs[0] - 1)  # as if the first never existed: Pushpin delivers the second
            for proxy in settings.GRIP_PROXIES:
                httpx.post(proxy["control_uri"].rstrip("/") + "/publish/", json={"items": [item]},
                           timeout=10).raise_for_status()
        finally:
            connection.close()

    helper = threading.Thread(target=store_two_push_one)
    helper.start()
    helper.join()
    expect(page.locator("#notifications li", has_text="gap test 1")).to_have_count(1, timeout=30_000)
    expect(page.locator("#notifications li", has_text="gap test 2")).to_have_count(1)
    # Newest first: the second above the first.
    expect(page.locator("#notifications li").first).to_contain_text("gap test 2")


def test_a_checkout_cancelled_by_the_customer_charges_nothing(platform, page):
    page.goto(f"{platform.base_url}/accounts/login/?next=/")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    page.fill("#charge-form input[name=amount]", "5000")
    page.click("#charge-form button")
    page.click("#cancel")
    expect(page.locator("#charge-result")).to_contain_text("사용자에 의해 결제가 취소되었습니다")
    expect(page.locator("#charge-result")).to_contain_text("PAY_PROCESS_CANCELED")
    page.goto(f"{platform.base_url}/")
    expect(page.locator("#balance")).to_have_text("₩0")


def test_the_page_sets_the_slack_channel_and_refuses_a_url_that_is_not_slacks(platform, page, minji):
    from notifications.models import NotificationPreference

    page.goto(f"{platform.base_url}/accounts/login/?next=/")
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("#preferences-form input[name=email]")).to_be_disabled()  # no address on the account
    page.check("#preferences-form input[name=slack]")
    page.fill("#preferences-form input[name=webhookUrl]", "http://10.0.0.5/services/internal")
    page.click("#preferences-form button")
    expect(page.locator("#preferences-form p[role=alert]")).to_contain_text("slack.webhookUrl: https://hooks.slack.com/")
    page.fill("#preferences-form input[name=webhookUrl]", "https://hooks.slack.com/services/T0/B0/secret")
    page.click("#preferences-form button")
    expect(page.locator("#preferences-form p[role=alert]")).to_have_text("저장했습니다.")
    # The ORM may not run in Playwright's event loop: read it from a thread.
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        saved = thread.submit(lambda: NotificationPreference.objects.get(user=minji)).result()
    assert saved.slack_enabled and saved.slack_webhook_url.endswith("/secret")


def test_the_pages_run_under_a_content_security_policy_that_blocks_foreign_scripts(platform, page):
    """The wallet page and the checkout run without a violation (the fixture checks every test's pages);
    a script injected without the page's nonce is refused, reported and never runs."""
    response = page.goto(f"{platform.base_url}/accounts/login/")
    assert "script-src 'self';" in response.headers["content-security-policy"]  # no inline script at all
    page.fill("input[name=username]", "minji")
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    policy = page.goto(f"{platform.base_url}/").headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "frame-ancestors 'none'" in policy
    expect(page.locator("#stream-status")).to_have_text("실시간", timeout=15_000)  # its nonced script ran
    page.evaluate("""() => { const s = document.createElement('script');
                             s.textContent = 'window.injected = true'; document.body.appendChild(s); }""")
    page.wait_for_timeout(500)
    assert page.evaluate("() => window.injected") is None
    assert any("script-src" in v for v in page.csp_violations)
    page.csp_violations_expected = True


@pytest.fixture
def operator(platform, django_user_model):
    return django_user_model.objects.create_superuser("operator", "ops@example.com", "correct horse operator")


def test_an_operator_enrols_a_second_factor_from_the_shown_key_and_works_in_the_admin(platform, operator, page):
    """The first staff sign-in: password, then the authenticator set up from the key the page shows (a code
    computed from it, as an app does), the recovery codes, then the admin and the operations page; all under
    the content security policy (the fixture fails on a violation)."""
    import base64

    from django_otp.oath import totp

    page.goto(f"{platform.base_url}/admin/")
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", "correct horse operator")
    page.click("input[type=submit]")
    expect(page.locator("h1")).to_have_text("2단계 로그인 설정")
    expect(page.locator("figure.qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    page.fill("input[name=token]", f"{totp(base64.b32decode(secret)):06d}")
    page.click("main button[type=submit]")  # (the header's is Log out)
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.click("text=계속")
    expect(page).to_have_url(f"{platform.base_url}/admin/")
    expect(page.locator("#site-name")).to_be_visible()
    page.goto(f"{platform.base_url}/admin/operations/")
    expect(page.locator("body")).to_contain_text("아웃박스")
    page.goto(f"{platform.base_url}/admin/wallets/wallet/")
    expect(page.locator("#changelist")).to_be_visible()
