import getpass

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from accounts.services import login_lockout_lift


class Command(BaseCommand):
    help = ("Lift a sign-in lockout before its cool-off ends: a username's, or a client address's (--address). "
            "Recorded as an operator action (of --by, or of the shell's user).")

    def add_arguments(self, parser):
        parser.add_argument("username", nargs="?")
        parser.add_argument("--address", help="the client address the failed sign-ins came from")
        parser.add_argument("--by", help="the operator's username (recorded)")

    def handle(self, *args, username, address, by, **options):
        if bool(username) == bool(address):
            raise CommandError("name a username or an --address (one of them)")
        operator = _operator(by)
        lifted = login_lockout_lift(by=operator, username=username, address=address,
                                    detail=f"manage.py login_unlock as {getpass.getuser()}")
        self.stdout.write(f"lifted the lockout of {username or address} ({lifted} failed attempt row(s) forgotten)")


def _operator(by: str | None):
    if not by:
        return None
    try:
        return get_user_model().objects.get_by_natural_key(by)
    except get_user_model().DoesNotExist:
        raise CommandError(f"by: no user {by!r}") from None
