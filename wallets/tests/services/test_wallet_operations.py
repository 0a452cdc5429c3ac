"""What holds for every wallet operation: amounts checked, all or nothing, one transaction of its own."""

import pytest
from django.db import transaction

from ledger.models import JournalEntry, Posting
from outbox.models import OutboxEvent
from prepaid.errors import ApplicationError
from prepaid.invariants import InvariantViolation
from tests.helpers import balance_of, charge
from wallets import services

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("amount", [0, -1, 10_000_001, 1.5, "100", True])
def test_services_refuse_amounts_outside_the_rules_even_without_the_api(user, amount):
    with pytest.raises(ApplicationError) as err:
        services.wallet_spend(user_id=user.id, amount=amount, description="x")
    assert err.value.code == "invalid_input"


def test_a_rolled_back_operation_leaves_no_trace(user):
    charge(user, 10_000)
    before = (JournalEntry.objects.count(), Posting.objects.count(), OutboxEvent.objects.count())

    class Boom(Exception):
        pass

    # An operation whose transaction fails after the outbox row was written.
    original = services.outbox_event_record

    def record_then_fail(**kwargs):
        original(**kwargs)
        raise Boom

    services.outbox_event_record = record_then_fail
    try:
        with pytest.raises(Boom):
            services.wallet_spend(user_id=user.id, amount=1_000, description="fails late")
    finally:
        services.outbox_event_record = original
    assert (JournalEntry.objects.count(), Posting.objects.count(), OutboxEvent.objects.count()) == before
    assert balance_of(user.id) == 10_000


def test_an_operation_is_never_part_of_an_outer_transaction(user):
    # durable=True: if a caller wrapped an operation in its own transaction, the
    # operation's commit would not be a commit. That is refused.
    charge(user, 1_000)
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        services.wallet_spend(user_id=user.id, amount=100, description="nested")
    assert balance_of(user.id) == 1_000


@pytest.mark.django_db(transaction=True)
def test_outbox_record_refuses_to_run_outside_a_transaction():
    with pytest.raises(InvariantViolation):
        services.outbox_event_record(event_id=None, event_type="X", key="1", payload={})
