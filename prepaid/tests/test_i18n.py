"""Korean first, English too: every text of the code has its Korean, the pages and the notifications
show no English left in Korean (nor Korean in English), the API's messages follow Accept-Language
with the same codes, and a user's choice of language is kept for what the platform writes them."""

import datetime
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import polib
import pytest
from django.core import mail

from accounts.models import LanguagePreference
from notifications import services as notification_services
from notifications.channels.email import email_message
from notifications.models import Notification
from notifications.texts import render
from prepaid.events import EventType
from tests.helpers import charge, wallet_event
from wallets import services as wallet_services
from wallets.models import Operation

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
# Words that are the same in Korean text: names (English's own, in the language switcher), formats and
# protocol terms.
KEPT = {"English", "ID", "prepaid", "Slack", "CSV", "URL", "sandbox", "Idempotency", "Key", "POST", "ASCII", "API",
        "from", "to", "next", "previous", "atomic", "Retry", "After", "https", "hooks", "slack", "com", "services"}
WORD = re.compile(r"[A-Za-z]{2,}")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def english_words(text: str, *, data=()) -> list[str]:
    """The English words of ``text``, what a user or the test wrote (``data``) aside."""
    for written in sorted(data, key=len, reverse=True):
        text = text.replace(written, " ")
    text = PLACEHOLDER.sub(" ", text)
    return [w for w in WORD.findall(text) if w not in KEPT]


class _Text(HTMLParser):
    """What a reader sees of a page: its text (scripts' data aside) and the attributes read aloud or shown."""

    def __init__(self):
        super().__init__()
        self.texts, self._skip = [], 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name in ("placeholder", "title", "aria-label", "alt") and value:
                self.texts.append(value)

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(data.strip())


def page_texts(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.texts


def test_every_text_of_the_code_has_its_korean(tmp_path):
    """The catalogue made afresh from the code (makemessages, as a translator would) has a Korean
    text for every source text, none fuzzy, and holds nothing the code no longer says."""
    assert shutil.which("xgettext"), "gettext is missing: `make` installs it (scripts/devstack.sh gettext)"
    copy = tmp_path / "src"
    ignore = shutil.ignore_patterns("tests", "migrations", "__pycache__", "*.mo", "static")
    for name in ("accounts", "audit", "ledger", "notifications", "outbox", "prepaid", "wallets", "templates",
                 "locale"):
        shutil.copytree(ROOT / name, copy / name, ignore=ignore)
    shutil.copy(ROOT / "manage.py", copy)
    subprocess.run([sys.executable, "manage.py", "makemessages", "-l", "ko", "--no-location", "-v", "0"],
                   cwd=copy, check=True, env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "prepaid.settings",
                                              "SECRET_KEY": "makemessages-only"})
    fresh = polib.pofile(str(copy / "locale" / "ko" / "LC_MESSAGES" / "django.po"))
    untranslated = [e.msgid for e in fresh if not e.translated() or "fuzzy" in e.flags]
    assert untranslated == [], f"no Korean for these texts: add it to {CATALOGUE.relative_to(ROOT)}"
    kept = polib.pofile(str(CATALOGUE))
    assert {e.msgid for e in kept} == {e.msgid for e in fresh if not e.obsolete}, "run makemessages: stale entries"
    assert kept.obsolete_entries() == []


def test_the_korean_keeps_each_texts_placeholders():
    for entry in polib.pofile(str(CATALOGUE)):
        source = sorted(PLACEHOLDER.findall(entry.msgid))
        for translated in ([entry.msgstr] if not entry.msgid_plural else entry.msgstr_plural.values()):
            # A plural's Korean (one form) may leave the count out of neither.
            assert sorted(PLACEHOLDER.findall(translated)) == source, entry.msgid


def _a_wallet_with_history(user_factory):
    user, friend = user_factory(email="minji@example.com"), user_factory()
    charge(user, 50_000)
    wallet_services.wallet_spend(user_id=user.id, amount=3_000, description="1234")
    wallet_services.wallet_transfer(user_id=user.id, to=friend.username, amount=2_000, message="5678")
    wallet_services.wallet_transfer(user_id=friend.id, to=user.username, amount=500, message="")
    return user, friend


def test_the_wallet_page_in_korean_has_no_english_left_and_in_english_no_korean(client, user_factory):
    user, friend = _a_wallet_with_history(user_factory)
    notification_services.notifications_from_events(events=[wallet_event(user.id)])
    client.force_login(user)
    data = {user.username, friend.username, user.email,
            *Operation.objects.filter(user=user).exclude(order_id="").values_list("order_id", flat=True)}

    html = client.get("/").content.decode()
    left = [(text, words) for text in page_texts(html) if (words := english_words(text, data=data))]
    assert left == [], "English on the Korean page: translate it ({% translate %}) and add its Korean"
    script_texts = json.loads(re.search(r'<script id="page-texts" type="application/json">(.*?)</script>',
                                        html, re.S).group(1))
    flat = [*[v for k, v in script_texts.items() if k != "kinds"], *script_texts["kinds"].values()]
    assert [t for t in flat if english_words(t)] == []

    english = client.get("/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    # The notification was written in Korean when it came (the user had not chosen English then): it is kept.
    stored = {text for n in Notification.objects.filter(user=user) for text in (n.title, n.message)}
    korean = [t for t in page_texts(english) if HANGUL.search(t) and t not in stored and t != "한국어"]
    assert korean == []
    assert 'lang="en"' in english and ">Balance<" in english


@pytest.mark.parametrize("path", ["/accounts/login/", "/wallet/charge/fail?code=PAY_PROCESS_CANCELED"])
def test_the_other_pages_a_user_sees_are_korean(client, user, path):
    if "login" not in path:
        client.force_login(user)
    texts = page_texts(client.get(path).content.decode())
    assert [t for t in texts if english_words(t, data={user.username, "PAY_PROCESS_CANCELED"})] == []


def test_the_sandbox_checkout_is_korean(client, user):
    order = wallet_services.charge_order_create(user_id=user.id, amount=10_000)
    client.force_login(user)
    html = client.get(f"/wallet/charge/checkout?orderId={order.order_id}").content.decode()
    assert [t for t in page_texts(html) if english_words(t, data={user.username, order.order_id})] == []
    assert "₩10,000 결제하기" in html


SAMPLES = [
    wallet_event(1),
    {"eventType": "SPEND_COMPLETED", "amount": 3_000, "newBalance": 47_000, "description": "1234"},
    {"eventType": "REVERSAL_COMPLETED", "reversedAmount": 1_000, "newBalance": 48_000, "reason": ""},
    {"eventType": "TRANSFER_SENT", "amount": 1_500, "newBalance": 5_000, "message": "", "counterparty": "minsu",
     "metadata": {}},
    {"eventType": "TRANSFER_SENT", "amount": 1_500, "newBalance": 5_000, "message": "", "counterparty": "minsu",
     "metadata": {"returnedTransactionId": "x"}},
    {"eventType": "TRANSFER_RECEIVED", "amount": 1_500, "newBalance": 6_500, "message": "99", "counterparty": "minsu",
     "metadata": {}},
    {"eventType": "TRANSFER_RECEIVED", "amount": 1_500, "newBalance": 6_500, "message": "", "counterparty": "minsu",
     "metadata": {"returnedTransactionId": "x"}},
    {"eventType": "HOLD_PLACED", "amount": 2_000, "newBalance": 6_500, "availableBalance": 4_500, "description": ""},
    {"eventType": "HOLD_CAPTURED", "amount": 2_000, "newBalance": 4_500, "description": "7"},
    {"eventType": "HOLD_RELEASED", "releasedAmount": 2_000, "newBalance": 6_500, "availableBalance": 6_500,
     "reason": "expired"},
    {"eventType": "HOLD_RELEASED", "releasedAmount": 2_000, "newBalance": 6_500, "availableBalance": 6_500,
     "reason": "voided"},
    {"eventType": "REFUND_REQUESTED", "amount": 6_500, "toCards": 5_000, "toBank": 1_500, "expiredAmount": 1_000,
     "expiredRefund": 900, "newBalance": 6_500},
    {"eventType": "PAYOUT_COMPLETED", "amount": 1_500, "fromExpired": 0, "accountNumber": "********6789",
     "newBalance": 0},
    {"eventType": "REFUND_REQUEST_COMPLETED", "status": "COMPLETED", "refundedToCards": 5_000, "paidOut": 2_400,
     "leftInWallet": 0, "newBalance": 0},
    {"eventType": "REFUND_REQUEST_COMPLETED", "status": "PARTIAL", "refundedToCards": 5_000, "paidOut": 0,
     "leftInWallet": 1_500, "newBalance": 1_500},
    {"eventType": "BALANCE_EXPIRY_NOTICE", "amount": 3_000, "expiresBy": "2031-12-06T15:30:00+00:00",
     "newBalance": 6_500},
    {"eventType": "BALANCE_EXPIRED", "amount": 3_000, "refundablePercent": 90,
     "refundableUntil": "2036-12-06T15:30:00+00:00", "newBalance": 3_500},
]


def test_every_notification_text_is_korean_and_english():
    assert {s["eventType"] for s in SAMPLES} == set(EventType), "a sample of each event type"
    for sample in SAMPLES:
        ko, en = render(sample), render(sample, "en")
        assert HANGUL.search(ko.title) and HANGUL.search(ko.message), sample
        assert english_words(ko.title + " " + ko.message, data={"minsu"}) == [], ko
        assert not HANGUL.search(en.title + en.message), en
        assert (ko.type, ko.language, en.language) == (en.type, "ko", "en")
    messages = {render(s, "en").message for s in SAMPLES}
    assert len(messages) == len(SAMPLES), "each branch has its own text"


def test_the_apis_messages_follow_accept_language_and_the_codes_do_not(api, user):
    charge(user, 1_000)
    body = {"amount": 5_000, "description": "coffee"}
    korean = api.post("/api/v1/wallet/spends", body, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()
    english = api.post("/api/v1/wallet/spends", body, format="json", HTTP_IDEMPOTENCY_KEY="k2",
                       HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").json()
    assert korean["code"] == english["code"] == "insufficient_funds"
    assert korean["message"] == "amount: ₩5,000은 잔액 ₩1,000보다 많습니다"
    assert english["message"] == "amount: ₩5,000 is more than the balance of ₩1,000"
    assert korean["fields"] == {"amount": ["잔액이 부족합니다."]}
    # The replay of a refusal is answered in the language of the request that replays it.
    replayed = api.post("/api/v1/wallet/spends", body, format="json", HTTP_IDEMPOTENCY_KEY="k1",
                        HTTP_ACCEPT_LANGUAGE="en").json()
    assert replayed["message"] == english["message"]
    # DRF's own messages too (its Korean catalogue), the field named first in both.
    missing = api.post("/api/v1/wallet/spends", {"amount": 1}, format="json", HTTP_IDEMPOTENCY_KEY="k3").json()
    assert missing["code"] == "invalid_input" and missing["message"] == "description: 이 필드는 필수 항목입니다."
    header = api.post("/api/v1/wallet/spends", body, format="json", HTTP_ACCEPT_LANGUAGE="en").json()
    assert header["message"] == "Idempotency-Key: the header is required on every POST"


def test_a_users_choice_of_language_is_kept_for_what_is_written_to_them(client, user_factory, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user, stays_korean = user_factory(email="jiwoo@example.com"), user_factory()
    client.force_login(user)
    response = client.post("/language", {"language": "en", "next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert LanguagePreference.objects.get(user=user).language == "en"
    assert client.post("/language", {"language": "xx", "next": "/"}).status_code == 302  # ignored, as Django does
    assert LanguagePreference.objects.get(user=user).language == "en"

    notification_services.notifications_from_events(events=[wallet_event(user.id), wallet_event(stays_korean.id)])
    assert Notification.objects.get(user=user).title == "Charged"
    assert Notification.objects.get(user=stays_korean).title == "충전 완료"

    email = email_message(event_id="e1", to=user.email, rendered=render(wallet_event(user.id), "en"))
    assert "email notifications are on" in email.body and email.extra_headers["Content-Language"] == "en"
    assert not HANGUL.search(email.body + email.alternatives[0][0])
    korean = email_message(event_id="e2", to=user.email, rendered=render(wallet_event(user.id)))
    assert "이메일 알림을 켜 두셨기" in korean.body
    assert mail.outbox == []


@pytest.mark.parametrize("changelist", ["wallets/operation", "wallets/wallet", "wallets/custodyreport",
                                        "ledger/journalentry", "outbox/outboxevent", "notifications/deadletter",
                                        "accounts/operatoraction"])
def test_the_admins_own_labels_are_korean(client, staff_user, user, changelist):
    from accounts.services import operator_action_record
    from tests.helpers import staff_sign_in

    charge(user, 10_000)  # a wallet, its operation, entry and outbox row
    wallet_services.custody_report_make(day=datetime.date(2026, 12, 1))
    operator_action_record(user=staff_user, action="test", target=f"user:{user.id}")
    notification_services.dead_letter_store(topic="t.DLT", partition=0, offset=0, key=b"1", value=b"{", headers=[])
    staff_sign_in(client, staff_user)
    html = client.get(f"/admin/{changelist}/").content.decode()
    head = re.search(r"<thead>(.*?)</thead>", html, re.S).group(1)
    columns = [re.sub(r"<[^>]+>", "", th).strip() for th in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]
    assert [c for c in columns if english_words(c)] == [], columns
    title = re.search(r"<h1>(.*?)</h1>", html, re.S).group(1)
    assert HANGUL.search(title), title
