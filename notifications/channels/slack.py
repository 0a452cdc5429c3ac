"""The Slack channel: a user's incoming webhook.

Webhook URLs are secrets (whoever has one can post): they are never logged, and shown
masked. A URL is accepted only under ``SLACK_WEBHOOK_URL_PREFIXES`` (Slack's own in
production), so the platform cannot be made to call internal addresses.
"""

import httpx
from django.conf import settings
from django.utils.translation import gettext as _

from notifications.channels.base import Channel, ChannelRateLimited, ChannelRejected, ChannelUnavailable
from notifications.texts import Rendered

# Slack's answers that mean "this webhook will never work" (https://api.slack.com/messaging/webhooks).
SLACK_GONE = frozenset({"channel_not_found", "channel_is_archived", "invalid_token", "no_service", "no_service_id",
                        "no_team", "team_disabled", "action_prohibited", "posting_to_general_channel_denied",
                        "user_not_found", "invalid_payload"})


def slack_url_problem(url: str) -> str | None:
    """Why ``url`` may not be used as a Slack webhook (None: it may)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return _("not a URL")
    if parsed.userinfo or parsed.fragment:
        return _("no user, password or fragment in the URL")
    if not any(url.startswith(prefix) for prefix in settings.SLACK_WEBHOOK_URL_PREFIXES):
        return _("must start with %(prefixes)s") % {"prefixes": " | ".join(settings.SLACK_WEBHOOK_URL_PREFIXES)}
    return None


def slack_url_masked(url: str) -> str:
    """What may be shown or logged of a webhook URL: its host, never its secret path."""
    if not url:
        return ""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}/…"


def slack_escape(text: str) -> str:
    """Text shown as written in Slack's mrkdwn: ``&``, ``<`` and ``>`` escaped as Slack documents
    (https://api.slack.com/reference/surfaces/formatting#escaping), so that no ``<!channel>``
    mention or ``<url|disguised link>`` can come from what a user wrote."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_deliver(*, event_id: str, address: str, rendered: Rendered) -> None:
    url = address
    try:
        response = httpx.post(url, json={"text": f"*{rendered.title}*\n{rendered.message}"},
                              timeout=settings.SLACK_TIMEOUT_S, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise ChannelUnavailable(f"Slack at {slack_url_masked(url)}: {type(exc).__name__}") from exc
    if response.status_code == 200:
        return
    body = response.text.strip()[:100]
    if response.status_code == 429:
        try:
            retry_after_s = float(response.headers.get("Retry-After", "1"))
        except ValueError:
            retry_after_s = 1.0
        raise ChannelRateLimited(min(max(retry_after_s, 0.0), settings.SLACK_RETRY_AFTER_MAX_S))
    if response.status_code >= 500:
        raise ChannelUnavailable(f"Slack at {slack_url_masked(url)}: {response.status_code}")
    if body in SLACK_GONE or response.status_code in (403, 404, 410):
        raise ChannelRejected(f"Slack answered {response.status_code} {body}")
    raise RuntimeError(f"Slack answered {response.status_code} {body}")


CHANNEL = Channel(name="slack", label="Slack", address=lambda preference: preference.slack_webhook_url,
                  send=slack_deliver, escape=slack_escape, disabled_reason_field="slack_disabled_reason")
