"""Notification channels beyond the browser: email (Django's email framework) and Slack (incoming
webhooks). Each delivers one wallet event's text to one user and says how it went:

- returns: delivered;
- ``ChannelUnavailable``: the mail server or Slack is down or slow. Not the record's fault:
  the channel's consumer waits and tries again, without spending the record's retries;
- ``ChannelRateLimited``: Slack said 429: wait ``retry_after_s`` (its Retry-After), then again;
- ``ChannelRejected``: the destination refuses for good (Slack's ``channel_not_found``,
  ``invalid_token``, ...): the user's channel is switched off with the reason, no retry;
- anything else: a failure of this record (retried, then parked on the DLT).

Webhook URLs are secrets (whoever has one can post): they are never logged, and shown
masked. A URL is accepted only under ``SLACK_WEBHOOK_URL_PREFIXES`` (Slack's own in
production), so the platform cannot be made to call internal addresses.
"""

import smtplib

import httpx
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils.html import escape

from notifications.texts import Rendered


class ChannelUnavailable(Exception):
    """The channel's server did not take the message (down, refused, timed out)."""


class ChannelRateLimited(Exception):
    def __init__(self, retry_after_s: float):
        super().__init__(f"rate limited for {retry_after_s} s")
        self.retry_after_s = retry_after_s


class ChannelRejected(Exception):
    """The destination refuses for good; the reason is shown to the user."""


# --- Email --------------------------------------------------------------------------------


def email_message(*, event_id: str, to: str, rendered: Rendered) -> EmailMultiAlternatives:
    """The mail for one event: the toast's title and text, plain and HTML. Its Message-ID is the
    event's, so that a copy sent again after a crash is the same message to the reader's mail client."""
    message = EmailMultiAlternatives(
        subject=f"[prepaid] {rendered.title}", body=f"{rendered.title}\n\n{rendered.message}\n",
        from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
        headers={"Message-ID": f"<{event_id}.{settings.NOTIFICATIONS_EMAIL_MESSAGE_ID_DOMAIN}>"},
    )
    message.attach_alternative(
        f"<h2>{escape(rendered.title)}</h2><p>{escape(rendered.message)}</p>", "text/html")
    return message


def email_deliver(*, event_id: str, to: str, rendered: Rendered) -> None:
    message = email_message(event_id=event_id, to=to, rendered=rendered)
    try:
        with get_connection(timeout=settings.EMAIL_TIMEOUT_S) as connection:
            connection.send_messages([message])
    except (TimeoutError, ConnectionError, smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected,
            smtplib.SMTPHeloError) as exc:
        raise ChannelUnavailable(f"mail server: {type(exc).__name__}") from exc
    except smtplib.SMTPResponseException as exc:
        if 400 <= exc.smtp_code < 500:  # temporary (4xx): try again later
            raise ChannelUnavailable(f"mail server: {exc.smtp_code}") from exc
        raise


# --- Slack --------------------------------------------------------------------------------

# Slack's answers that mean "this webhook will never work" (https://api.slack.com/messaging/webhooks).
SLACK_GONE = frozenset({"channel_not_found", "channel_is_archived", "invalid_token", "no_service", "no_service_id",
                        "no_team", "team_disabled", "action_prohibited", "posting_to_general_channel_denied",
                        "user_not_found", "invalid_payload"})


def slack_url_problem(url: str) -> str | None:
    """Why ``url`` may not be used as a Slack webhook (None: it may)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "not a URL"
    if parsed.userinfo or parsed.fragment:
        return "no user, password or fragment in the URL"
    if not any(url.startswith(prefix) for prefix in settings.SLACK_WEBHOOK_URL_PREFIXES):
        return f"must start with {' or '.join(settings.SLACK_WEBHOOK_URL_PREFIXES)}"
    return None


def slack_url_masked(url: str) -> str:
    """What may be shown or logged of a webhook URL: its host, never its secret path."""
    if not url:
        return ""
    parsed = httpx.URL(url)
    return f"{parsed.scheme}://{parsed.host}{':' + str(parsed.port) if parsed.port else ''}/…"


def slack_deliver(*, url: str, rendered: Rendered) -> None:
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
