"""One registry lists the channels beyond the browser (notifications/channels/__init__.py); the
rest of the platform asks it: the consumers and their groups, run_consumer, the preferences the
model keeps, the metrics, the wallet page."""

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from notifications.channels import CHANNELS, channel_get
from notifications.models import NotificationPreference
from prepaid.events import EventType

pytestmark = pytest.mark.django_db


def test_each_channel_has_its_group_preference_columns_and_sender():
    assert set(CHANNELS) == set(settings.NOTIFICATIONS_CHANNEL_GROUPS)
    columns = {field.name for field in NotificationPreference._meta.get_fields()}
    for channel in CHANNELS.values():
        assert channel.group_id == settings.NOTIFICATIONS_CHANNEL_GROUPS[channel.name]
        assert {channel.enabled_field, channel.event_types_field} <= columns
        assert channel.disabled_reason_field in columns | {None}
        assert callable(channel.send) and callable(channel.escape) and channel.label


def test_an_unknown_channel_is_named_as_such():
    with pytest.raises(ValueError, match="no channel 'pigeon'; the channels are email, slack"):
        channel_get("pigeon")


def test_run_consumer_offers_the_registrys_channels():
    with pytest.raises(CommandError, match="invalid choice: 'pigeon'.*in-app.*email.*slack"):
        call_command("run_consumer", "--channel", "pigeon")


def test_the_wallet_page_lists_each_channel_and_every_event_type_of_the_contract(client, django_user_model):
    user = django_user_model.objects.create_user("channels-page", password="pw-Channels-1", email="c@example.com")
    client.force_login(user)
    page = client.get("/").content.decode()
    for channel in CHANNELS.values():
        assert f'name="{channel.name}" data-channel' in page and str(channel.label) in page
    assert all(event_type.value in page for event_type in EventType)
    assert "CHARGE_COMPLETED" not in (settings.BASE_DIR / "wallets/static/wallets/wallet.js").read_text()
