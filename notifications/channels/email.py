"""The email channel: Django's email framework (SMTP in production), to the account's address."""

import smtplib

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from notifications.channels.base import Channel, ChannelUnavailable
from notifications.texts import Rendered


def email_message(*, event_id: str, to: str, rendered: Rendered) -> EmailMultiAlternatives:
    """The mail for one event: the toast's title and text, plain and HTML. Its Message-ID is the
    event's, so that a copy sent again after a crash is the same message to the reader's mail client."""
    with translation.override(rendered.language):
        why = _("You receive this email because email notifications are on in your wallet's settings.")
    message = EmailMultiAlternatives(
        subject=f"[prepaid] {rendered.title}", body=f"{rendered.title}\n\n{rendered.message}\n\n-- \n{why}\n",
        from_email=settings.DEFAULT_FROM_EMAIL, to=[to],
        headers={"Message-ID": f"<{event_id}.{settings.NOTIFICATIONS_EMAIL_MESSAGE_ID_DOMAIN}>",
                 "Content-Language": rendered.language},
    )
    message.attach_alternative(
        f'<html lang="{rendered.language}"><body><h2>{escape(rendered.title)}</h2><p>{escape(rendered.message)}</p>'
        f'<p style="color:#666;font-size:small">{escape(why)}</p></body></html>', "text/html")
    return message


def email_deliver(*, event_id: str, address: str, rendered: Rendered) -> None:
    message = email_message(event_id=event_id, to=address, rendered=rendered)
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


# Plain text as it is; email_message escapes the HTML part itself.
CHANNEL = Channel(name="email", label=gettext_lazy("Email"), address=lambda preference: preference.user.email or "",
                  send=email_deliver, escape=str)
