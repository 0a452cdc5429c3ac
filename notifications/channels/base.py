"""What every notification channel is (``Channel``: one entry of the registry in
``notifications/channels/__init__.py``) and how a channel says a delivery went:

- returns: delivered;
- ``ChannelUnavailable``: the channel's server is down or slow. Not the record's fault:
  the channel's consumer waits and tries again, without spending the record's retries;
- ``ChannelRateLimited``: wait ``retry_after_s`` (the server's Retry-After), then again;
- ``ChannelRejected``: the destination refuses for good (Slack's ``channel_not_found``,
  ``invalid_token``, ...): the user's channel is switched off with the reason, no retry;
- anything else: a failure of this record (retried, then parked on the DLT).
"""

import dataclasses
from collections.abc import Callable

from django.conf import settings


class ChannelUnavailable(Exception):
    """The channel's server did not take the message (down, refused, timed out)."""


class ChannelRateLimited(Exception):
    def __init__(self, retry_after_s: float):
        super().__init__(f"rate limited for {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ChannelRejected(Exception):
    """The destination refuses for good; the reason is shown to the user."""


@dataclasses.dataclass(frozen=True)
class Channel:
    """A way to tell a user about an event besides the browser.

    - ``name``: in settings (``NOTIFICATIONS_CHANNEL_GROUPS``), on the command line
      (``run_consumer --channel``), in the DLT's channel header, in the API's preferences;
    - ``label``: what the wallet page shows;
    - ``address``: where this user's messages go, from their preferences ("": nowhere);
    - ``send``: deliver one event's text there (raises the exceptions above);
    - ``escape``: what makes user-written text (a description, a transfer's message) plain
      text in the channel's medium, applied to the title and the message before ``send``
      (Slack: its mrkdwn control characters; email escapes its HTML part itself);
    - ``disabled_reason_field``: the preference column that keeps why the channel was switched
      off when its destination refused for good (None: the channel keeps no reason).

    Its preference columns are ``<name>_enabled`` and ``<name>_event_types``
    (``notifications.models.NotificationPreference``).
    """

    name: str
    label: str
    address: Callable[[object], str]
    send: Callable[..., None]  # (*, event_id: str, address: str, rendered: Rendered) -> None
    escape: Callable[[str], str]
    disabled_reason_field: str | None = None

    @property
    def enabled_field(self) -> str:
        return f"{self.name}_enabled"

    @property
    def event_types_field(self) -> str:
        return f"{self.name}_event_types"

    @property
    def group_id(self) -> str:
        """The channel's own Kafka consumer group."""
        return settings.NOTIFICATIONS_CHANNEL_GROUPS[self.name]
