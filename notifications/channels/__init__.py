"""The registry of notification channels beyond the browser: one entry per channel, and the
rest of the code (the consumers, the preferences API and page, run_consumer, the metrics) asks
it instead of naming channels. A new channel is a sender module here (its ``CHANNEL``: a
``base.Channel``), its line below, its preference columns, its consumer group in
``NOTIFICATIONS_CHANNEL_GROUPS``, and its tests.
"""

from notifications.channels import email, slack
from notifications.channels.base import Channel, ChannelRateLimited, ChannelRejected, ChannelUnavailable

CHANNELS: dict[str, Channel] = {channel.name: channel for channel in (email.CHANNEL, slack.CHANNEL)}


def channel_get(name: str) -> Channel:
    try:
        return CHANNELS[name]
    except KeyError:
        raise ValueError(f"no channel {name!r}; the channels are {', '.join(CHANNELS)}") from None


__all__ = ["CHANNELS", "Channel", "ChannelRateLimited", "ChannelRejected", "ChannelUnavailable", "channel_get"]
