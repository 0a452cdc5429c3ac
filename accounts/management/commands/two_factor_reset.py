import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.management.commands.login_unlock import _operator
from accounts.services import two_factor_reset


class Command(BaseCommand):
    help = ("Forget a user's second factor (a lost phone): their authenticator and recovery codes go, and "
            "they enrol again at their next sign-in. Recorded as an operator action (of --by, or of the shell's "
            "user).")

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--by", help="the operator's username (recorded)")

    def handle(self, *args, username, by, **options):
        try:
            user = get_user_model().objects.get_by_natural_key(username)
        except get_user_model().DoesNotExist:
            raise CommandError(f"username: no user {username!r}") from None
        removed = two_factor_reset(user=user, by=_operator(by),
                                   detail=f"manage.py two_factor_reset as {getpass.getuser()}")
        self.stdout.write(f"reset the second factor of {username} ({removed} device(s) removed); "
                          "they enrol again at their next sign-in")
