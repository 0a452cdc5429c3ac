"""Property-based: any sequence of operations keeps every invariant of the ledger."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.selectors import ledger_unbalanced_entries
from prepaid.errors import ApplicationError
from tests.helpers import assert_ledger_consistent, balance_of, new_order_id
from wallets import services
from wallets.models import Operation
from wallets.selectors import wallet_balance_mismatches

amounts = st.integers(min_value=1, max_value=30_000)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("charge"), amounts),
        st.tuples(st.just("spend"), amounts),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50), st.none() | amounts),
    ),
    min_size=1,
    max_size=25,
)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_any_sequence_of_operations_keeps_the_invariants(user_factory, ops):
    user = user_factory()
    expected_balance = 0
    reversible: list[tuple[Operation, str]] = []  # (entry, kind)
    reversed_total: dict = {}
    succeeded = 0

    for op in ops:
        try:
            if op[0] == "charge":
                entry = services.wallet_charge(user_id=user.id, amount=op[1], payment_key="pk",
                                               order_id=new_order_id()).transaction
                expected_balance += op[1]
                reversible.append((entry, "CHARGE"))
            elif op[0] == "spend":
                entry = services.wallet_spend(user_id=user.id, amount=op[1], description="d").transaction
                expected_balance -= op[1]
                reversible.append((entry, "SPEND"))
            else:
                if not reversible:
                    continue
                original, kind = reversible[op[1] % len(reversible)]
                entry = services.wallet_reverse(user_id=user.id, transaction_id=original.id, amount=op[2],
                                                reason="r").transaction
                reversed_total[original.id] = reversed_total.get(original.id, 0) + entry.amount
                expected_balance += entry.amount if kind == "SPEND" else -entry.amount
            succeeded += 1
        except ApplicationError as exc:
            # Refusals are allowed only for the documented reasons, and change nothing.
            assert exc.code in {"insufficient_funds", "already_fully_reversed", "reversal_exceeds_remaining"}
        assert balance_of(user.id) == expected_balance
        assert expected_balance >= 0

    assert_ledger_consistent(user.id)
    assert Operation.objects.filter(user=user).count() == succeeded
    for original, _ in reversible:
        assert reversed_total.get(original.id, 0) <= original.amount
    assert wallet_balance_mismatches() == []
    assert ledger_unbalanced_entries() == []
