from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import api_token_revoke, api_tokens_revoke_all
from prepaid.errors import ApplicationError


class Command(BaseCommand):
    help = "Revoke a user's API tokens: all of them, or the one --token-id names. They stop working at once."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--token-id", help="the token's id (its first characters, as listed in the admin)")

    def handle(self, *args, username, token_id, **options):
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"username: no user {username!r}") from None
        if token_id:
            try:
                api_token_revoke(user=user, token_id=token_id)
            except ApplicationError as exc:
                raise CommandError(exc.message) from None
            self.stdout.write(f"revoked token {token_id} of {username}")
        else:
            self.stdout.write(f"revoked {api_tokens_revoke_all(user=user)} token(s) of {username}")
