"""What holds for every wallet operation: amounts checked, all or nothing, one transaction of its own."""

import pytest
from django.db import DatabaseError, connection, transaction

from ledger.models import JournalEntry, Posting
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from tests.helpers import balance_of, charge
from wallets import services
from wallets.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("amount", [0, -1, 10_000_001, 1.5, "100", True])
def test_services_refuse_amounts_outside_the_rules_even_without_the_api(user, amount):
    with pytest.raises(ApplicationError) as err:
        services.wallet_spend(user_id=user.id, amount=amount, description="x")
    assert err.value.code == "invalid_input"


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_operation_leaves_no_trace(user):
    charge(user, 10_000)
    before = (JournalEntry.objects.count(), Posting.objects.count(), OutboxEvent.objects.count())
    # An operation whose transaction fails late: after its entry, balance and outbox row were written.
    with connection.cursor() as cursor:
        cursor.execute("CREATE FUNCTION test_fail_late() RETURNS trigger LANGUAGE plpgsql AS $$ "
                       "BEGIN RAISE EXCEPTION 'failing after the outbox row'; END $$")
        cursor.execute("CREATE TRIGGER test_fail_late AFTER INSERT ON outbox_outboxevent "
                       "FOR EACH ROW EXECUTE FUNCTION test_fail_late()")
    try:
        key = services.idempotency_key(key="k-fails", method="POST", path="/x", body={})
        with pytest.raises(DatabaseError, match="failing after the outbox row"):
            services.wallet_spend(user_id=user.id, amount=1_000, description="fails late", idempotency=key)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER test_fail_late ON outbox_outboxevent")
            cursor.execute("DROP FUNCTION test_fail_late()")
    assert (JournalEntry.objects.count(), Posting.objects.count(), OutboxEvent.objects.count()) == before
    assert balance_of(user.id) == 10_000
    assert not IdempotencyRecord.objects.filter(key="k-fails").exists()


def test_an_operation_is_never_part_of_an_outer_transaction(user):
    # durable=True: if a caller wrapped an operation in its own transaction, the
    # operation's commit would not be a commit. That is refused.
    charge(user, 1_000)
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        services.wallet_spend(user_id=user.id, amount=100, description="nested")
    assert balance_of(user.id) == 1_000
