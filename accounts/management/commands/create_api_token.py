import datetime

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_token_create
from prepaid.errors import ApplicationError


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it (on its own line, on stdout, so that "
        "TOKEN=$(... create_api_token alice) works). It is shown this once: only its digest is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--days", type=int, help="how long it lives (default and most: API_TOKEN_TTL_DAYS)")

    def handle(self, *args, username, days, **options):
        from django.conf import settings

        if days is not None and not 1 <= days <= settings.API_TOKEN_TTL_DAYS:
            raise CommandError(f"--days: 1 to {settings.API_TOKEN_TTL_DAYS}")
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"username: no user {username!r}") from None
        if not user.is_active:
            raise CommandError(f"username: {username!r} is inactive; a token would not work")
        try:
            instance, token = api_token_create(user=user, ttl=datetime.timedelta(days=days) if days else None)
        except ApplicationError as exc:
            raise CommandError(exc.message) from None
        self.stderr.write(f"token {instance.token_key} for {username}, expires {instance.expiry:%Y-%m-%d %H:%M %Z}")
        self.stdout.write(token)
