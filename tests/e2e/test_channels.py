"""The email channel as its own process (run_consumer --channel email): kill -9 mid-burst of 200 events
mails each once; while the mail server is down the browser's toast still comes at once."""

import sys
import uuid

import pytest
from django.conf import settings

from notifications.models import Notification, NotificationPreference
from tests.fake_channels import MailServer
from tests.helpers import new_order_id
from tests.support import kafka_group_skip_to_end, wait_until
from wallets import services

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def email_consumer(process_factory, mail):
    kafka_group_skip_to_end(topic=settings.KAFKA_TOPIC_WALLET_EVENTS, group_id=settings.NOTIFICATIONS_CHANNEL_GROUPS[
        "email"])
    started = []

    def start():
        started.append(process_factory("email-consumer", [sys.executable, "manage.py", "run_consumer", "--channel",
                                                          "email"], EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(mail.port)))
        return started[-1]

    yield start
    for proc in started:
        proc.stop()
        proc.kill_group()


def by_message_id(mail) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in mail.messages:
        counts[message["Message-ID"]] = counts.get(message["Message-ID"], 0) + 1
    return counts


def test_kill_9_of_the_email_consumer_mid_burst_mails_each_event_once(platform, user_factory, mail, email_consumer):
    user = user_factory(email="burst@example.com")
    NotificationPreference.objects.create(user=user, email_enabled=True)
    consumer = email_consumer()
    services.wallet_charge(user_id=user.id, amount=1_000_000, payment_key="pk", order_id=new_order_id())
    for i in range(199):
        services.wallet_spend(user_id=user.id, amount=1, description=f"burst {i}")
    wait_until(lambda: len(mail.messages) >= 50, timeout_s=120, what="the burst to be mailing")
    consumer.kill9()  # mid-burst
    assert len(mail.messages) < 200, "the burst was over before the kill"
    email_consumer()
    wait_until(lambda: len(by_message_id(mail)) == 200, timeout_s=180, what="every event mailed")
    counts = by_message_id(mail)
    event_ids = {str(n.event_id) for n in Notification.objects.filter(user=user)}
    assert {f"<{e}.{settings.NOTIFICATIONS_EMAIL_MESSAGE_ID_DOMAIN}>" for e in event_ids} == set(counts)
    # Each event is one message. SMTP has no idempotency: a kill between the server's "250" and the
    # record of it sends that message again, with the same Message-ID (one mail to the reader).
    resent = sum(c - 1 for c in counts.values())
    assert resent <= 1, counts


def test_the_toast_does_not_wait_for_a_mail_server_that_is_down(platform, user_factory, mail, email_consumer):
    user = user_factory(email="down@example.com")
    NotificationPreference.objects.create(user=user, email_enabled=True)
    mail.stop()
    email_consumer()
    services.wallet_charge(user_id=user.id, amount=5_000, payment_key="pk", order_id=new_order_id())
    wait_until(lambda: Notification.objects.filter(user=user).exists(), timeout_s=10,
               what="the in-app notification while email is down")
    assert not mail.messages
    mail.start()
    wait_until(lambda: len(mail.messages) == 1, timeout_s=60, what="the mail once the server is back")
    assert uuid.UUID(mail.messages[0]["Message-ID"].strip("<>").split(".")[0]) == Notification.objects.get(
        user=user).event_id
