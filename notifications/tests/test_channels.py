"""Email and Slack: a real SMTP server (aiosmtpd) and a local HTTP server stand in for the mail server
and Slack. Preferences, delivery once per event and channel, outages waited out, Slack's 429 and
refusals, the DLT with the channel's name, and webhook URLs that cannot reach internal addresses."""

import collections
import json
import logging
import threading
import time
import uuid
from email.header import decode_header, make_header

import pytest

from notifications import services
from notifications.consumer import ChannelConsumer
from notifications.models import NotificationPreference
from tests.fake_channels import MailServer, SlackServer
from tests.helpers import staff_sign_in, wallet_event

pytestmark = pytest.mark.django_db(transaction=True)

PREFERENCES = "/api/v1/notification-preferences"
ALL = ["CHARGE_COMPLETED", "SPEND_COMPLETED", "REVERSAL_COMPLETED", "TRANSFER_SENT", "TRANSFER_RECEIVED",
       "HOLD_PLACED", "HOLD_CAPTURED", "HOLD_RELEASED", "REFUND_REQUESTED", "PAYOUT_COMPLETED",
       "REFUND_REQUEST_COMPLETED", "BALANCE_EXPIRY_NOTICE", "BALANCE_EXPIRED"]


@pytest.fixture
def mail(settings):
    server = MailServer().start()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", server.port
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"  # pytest-django's is in memory
    yield server
    server.stop()


@pytest.fixture
def slack():
    server = SlackServer()
    yield server
    server.stop()


@pytest.fixture
def subscriber(user_factory, slack):
    user = user_factory(email="minji@example.com")
    NotificationPreference.objects.create(user=user, email_enabled=True, slack_enabled=True,
                                          slack_webhook_url=slack.url)
    return user


Record = collections.namedtuple("Record", "topic partition offset key value headers")


def record_of(event: dict, offset: int = 0) -> Record:
    return Record("test.wallet-events", 0, offset, str(event["userId"]).encode(), json.dumps(event).encode(), [])


def test_a_charge_is_mailed_and_posted_once_with_the_toasts_text(subscriber, mail, slack):
    event = wallet_event(subscriber.id)
    for channel in ("email", "slack"):
        group = f"test.notification-{channel}"
        assert services.channel_deliver(channel=channel, group_id=group, event=event) == "delivered"
        assert services.channel_deliver(channel=channel, group_id=group, event=event) == "duplicate"
    (message,) = mail.messages
    assert mail.subjects() == ["[prepaid] 충전 완료"]
    plain = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert "₩10,000가 충전되었습니다. 현재 잔액: ₩50,000" in plain and "₩10,000가 충전되었습니다" in html
    assert message["Message-ID"] == f"<{event['eventId']}.prepaid.local>"
    assert message["To"] == "minji@example.com"
    ((_, posted),) = slack.received
    assert posted == {"text": "*충전 완료*\n₩10,000가 충전되었습니다. 현재 잔액: ₩50,000"}


def test_what_a_user_wrote_cannot_mention_everyone_or_disguise_a_link_in_slack(subscriber, mail, slack):
    """A spend's description is shown as written: Slack's control characters escaped for Slack, the
    mail's HTML escaped for HTML, the mail's plain text left plain."""
    written = "<!channel> 환불 받으세요 <https://evil.example/|https://bank.example> & more"
    event = wallet_event(subscriber.id, eventType="SPEND_COMPLETED", amount=1_000, description=written,
                         newBalance=49_000)
    for key in ("paymentKey", "orderId"):
        event.pop(key)
    for channel in ("email", "slack"):
        assert services.channel_deliver(channel=channel, group_id=f"g-{channel}", event=event) == "delivered"
    ((_, posted),) = slack.received
    escaped = "&lt;!channel&gt; 환불 받으세요 &lt;https://evil.example/|https://bank.example&gt; &amp; more"
    assert escaped in posted["text"]
    assert "<!channel>" not in posted["text"] and "<https://" not in posted["text"]
    (message,) = mail.messages
    plain = next(p for p in message.walk() if p.get_content_type() == "text/plain").get_payload(decode=True).decode()
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert written in plain and "&lt;!channel&gt;" in html and "<!channel>" not in html


def test_only_the_channels_and_events_the_user_chose(subscriber, mail, slack):
    NotificationPreference.objects.filter(user=subscriber).update(email_event_types=["SPEND_COMPLETED"],
                                                                  slack_enabled=False)
    event = wallet_event(subscriber.id)  # a charge
    assert services.channel_deliver(channel="email", group_id="g-email", event=event) == "skipped"
    assert services.channel_deliver(channel="slack", group_id="g-slack", event=event) == "skipped"
    assert not mail.messages and not slack.received


def test_expiry_notices_go_on_every_channel_the_user_has_on_whatever_types_they_chose(subscriber, mail, slack):
    NotificationPreference.objects.filter(user=subscriber).update(email_event_types=["SPEND_COMPLETED"],
                                                                  slack_enabled=False)
    notice = {**wallet_event(subscriber.id), "eventType": "BALANCE_EXPIRY_NOTICE", "noticeId": str(uuid.uuid4()),
              "amount": 3_000, "daysBefore": 7, "expiresBy": "2031-12-06T15:30:00+00:00", "newBalance": 5_000}
    del notice["paymentKey"], notice["orderId"]
    assert services.channel_deliver(channel="email", group_id="g-email", event=notice) != "skipped"
    assert services.channel_deliver(channel="slack", group_id="g-slack", event=notice) == "skipped"  # off
    subject = str(make_header(decode_header(mail.messages[0]["Subject"])))
    assert len(mail.messages) == 1 and "소멸" in subject and not slack.received


def test_a_mail_server_down_for_5_s_is_waited_for_and_mails_once(subscriber, mail, settings):
    mail.stop()
    consumer = ChannelConsumer(threading.Event(), "email")
    threading.Timer(5, mail.start).start()
    started = time.monotonic()
    assert consumer.handle(record_of(wallet_event(subscriber.id))) is True  # waited, did not park
    assert time.monotonic() - started >= 5
    assert len(mail.messages) == 1


def test_a_record_the_mail_server_refuses_is_retried_then_parked_naming_the_channel(subscriber, mail, kafka_tail):
    tail = kafka_tail("test.wallet-events.DLT")
    mail.refuse.add("minji@example.com")
    consumer = ChannelConsumer(threading.Event(), "email")
    assert consumer.handle(record_of(wallet_event(subscriber.id))) is True
    (parked,) = tail.collect(lambda records: len(records) >= 1, timeout_s=30)
    headers = dict(parked.headers)
    assert headers[services.DLT_CHANNEL] == b"email" and headers[services.DLT_ATTEMPTS] == b"4"
    assert not mail.messages


def test_slacks_429_is_waited_out_as_retry_after_says(subscriber, slack):
    slack.answers.append((429, "rate_limited", {"Retry-After": "2"}))
    consumer = ChannelConsumer(threading.Event(), "slack")
    assert consumer.handle(record_of(wallet_event(subscriber.id))) is True
    (first, _), (second, body) = slack.received
    assert second - first >= 2 and "충전 완료" in body["text"]


def test_channel_not_found_switches_the_users_slack_off_with_the_reason(subscriber, slack, api_client_for):
    slack.answers.append((404, "channel_not_found", {}))
    consumer = ChannelConsumer(threading.Event(), "slack")
    assert consumer.handle(record_of(wallet_event(subscriber.id))) is True
    assert len(slack.received) == 1  # not retried
    shown = api_client_for(subscriber).get(PREFERENCES).json()["slack"]
    assert shown["enabled"] is False and "channel_not_found" in shown["disabledReason"]
    assert consumer.handle(record_of(wallet_event(subscriber.id), 1)) is True
    assert len(slack.received) == 1  # off: nothing more is posted


def test_preferences_through_the_api(api_client_for, user_factory, slack, settings, caplog):
    caplog.set_level(logging.DEBUG)
    user = user_factory(email="jiho@example.com")
    api = api_client_for(user)
    assert api.get(PREFERENCES).json() == {
        "email": {"enabled": False, "eventTypes": ALL, "address": "jiho@example.com"},
        "slack": {"enabled": False, "eventTypes": ALL, "webhookUrl": "", "disabledReason": ""}}
    body = {"email": {"enabled": True, "eventTypes": ["SPEND_COMPLETED"]},
            "slack": {"enabled": True, "webhookUrl": slack.url, "eventTypes": ALL}}
    saved = api.put(PREFERENCES, body, format="json")
    assert saved.status_code == 200, saved.json()
    assert saved.json()["slack"]["webhookUrl"] == f"http://127.0.0.1:{slack.httpd.server_address[1]}/…"
    assert saved.json()["email"]["eventTypes"] == ["SPEND_COMPLETED"]
    # Omitting the URL keeps it (it is never shown back).
    body["slack"] = {"enabled": True, "eventTypes": ["CHARGE_COMPLETED"]}
    assert api.put(PREFERENCES, body, format="json").status_code == 200
    assert NotificationPreference.objects.get(user=user).slack_webhook_url == slack.url
    assert "secret-token" not in caplog.text


@pytest.mark.parametrize(("url", "problem"), [
    ("http://169.254.169.254/latest/meta-data/", "시작해야 합니다"),  # cloud metadata
    ("https://hooks.slack.com.evil.example/services/x", "시작해야 합니다"),
    ("http://10.0.0.5:8080/services/x", "시작해야 합니다"),
    ("https://user:pw@hooks.slack.com/services/x", "사용자, 비밀번호"),
])
def test_a_webhook_url_that_is_not_slacks_is_refused(api, url, problem):
    body = {"email": {"enabled": False, "eventTypes": ALL}, "slack": {"enabled": True, "webhookUrl": url,
                                                                      "eventTypes": ALL}}
    answer = api.put(PREFERENCES, body, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_input"
    assert problem in answer.json()["fields"]["slack.webhookUrl"][0]
    assert not NotificationPreference.objects.filter(slack_enabled=True).exists()


@pytest.mark.parametrize("body", [
    {"email": {"enabled": "yes", "eventTypes": ALL}, "slack": {"enabled": False, "eventTypes": ALL}},
    {"email": {"enabled": True, "eventTypes": ["NOPE"]}, "slack": {"enabled": False, "eventTypes": ALL}},
    {"email": {"enabled": True, "eventTypes": ALL}},
    {"email": {"enabled": True, "eventTypes": ALL, "extra": 1}, "slack": {"enabled": False, "eventTypes": ALL}},
])
def test_bad_preferences_are_a_400_naming_the_field(api, body):
    answer = api.put(PREFERENCES, body, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_input" and answer.json()["fields"]



def test_the_dead_letter_admin_names_the_channel_that_parked_it(staff_user, client):
    for offset, channel in ((1, b"email"), (2, None)):
        services.dead_letter_store(topic="test.wallet-events.DLT", partition=0, offset=offset, key=b"1", value=b"{}",
                                   headers=[(services.DLT_CHANNEL, channel)] if channel else [])
    staff_sign_in(client, staff_user)
    page = client.get("/admin/notifications/deadletter/").content.decode()
    assert '<td class="field-channel">email</td>' in page and '<td class="field-channel">in-app</td>' in page


def test_a_poll_costs_one_query_for_the_users_without_the_channel(subscriber, mail, user_factory,
                                                                   django_assert_max_num_queries):
    others = [user_factory() for _ in range(20)]
    polled = {("test.wallet-events", 0): [record_of(wallet_event(u.id), i) for i, u in enumerate(others)]
              + [record_of(wallet_event(subscriber.id), 20)]}
    consumer = ChannelConsumer(threading.Event(), "email")
    # Who has email on (one query for 21 records); the subscriber's dedup, preference, record (BEGIN, COMMIT).
    with django_assert_max_num_queries(6):
        assert consumer.handle_polled(polled) == {("test.wallet-events", 0): 21}
    assert len(mail.messages) == 1 and mail.messages[0]["To"] == "minji@example.com"


def test_a_record_parked_by_the_email_channel_is_replayed_and_mailed_once(subscriber, mail, kafka_tail, staff_user):
    dlt, topic = kafka_tail("test.wallet-events.DLT"), kafka_tail()
    event = wallet_event(subscriber.id)
    mail.refuse.add("minji@example.com")
    consumer = ChannelConsumer(threading.Event(), "email")
    assert consumer.handle(record_of(event)) is True  # retried, then parked
    (parked,) = dlt.collect(lambda records: len(records) >= 1, timeout_s=30)
    dead_letter, _ = services.dead_letter_store(topic=parked.topic, partition=parked.partition, offset=parked.offset,
                                                key=parked.key, value=parked.value, headers=list(parked.headers))
    assert dead_letter.headers[services.DLT_CHANNEL] == "email"

    mail.refuse.clear()  # the operator fixed the mailbox, then replays
    services.dead_letter_replay(dead_letter=dead_letter, by=staff_user)
    (replayed,) = topic.collect(lambda records: len(records) >= 1, timeout_s=30)
    for _ in range(2):  # the replayed record, and the same record read again
        assert consumer.handle(replayed) is True
    assert len(mail.messages) == 1 and mail.messages[0]["Message-ID"] == f"<{event['eventId']}.prepaid.local>"
