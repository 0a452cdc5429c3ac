"""Verification tiers: each tier's balance cap and daily transfer limit (settings), set by an operator or
the identity provider's hook (recorded as an operator action), enforced by the SQL on charges, transfers
in and batches, shown by GET /api/v1/wallet; refusals name the tier and the cap and write nothing."""

import pytest

from accounts.models import OperatorAction
from prepaid.errors import ApplicationError
from tests.helpers import balance_of, charge, ledger_snapshot
from wallets import services
from wallets.models import ChargeOrder, Wallet

pytestmark = pytest.mark.django_db

WALLET = "/api/v1/wallet"


@pytest.fixture
def caps(settings):
    """The decree's figures (the suite's own are higher: its wallets hold more than a person's)."""
    settings.WALLET_BALANCE_MAX_UNVERIFIED_WON, settings.WALLET_BALANCE_MAX_VERIFIED_WON = 500_000, 2_000_000
    settings.TRANSFER_DAILY_MAX_UNVERIFIED_WON, settings.TRANSFER_DAILY_MAX_VERIFIED_WON = 300_000, 1_000_000
    return settings


def _refusal(call) -> ApplicationError:
    with pytest.raises(ApplicationError) as refused:
        call()
    return refused.value


def test_an_unverified_wallet_is_capped_and_a_verified_one_holds_more(caps, user, staff_user):
    charge(user, 400_000)
    before = ledger_snapshot()
    refused = _refusal(lambda: charge(user, 100_001))
    assert refused.code == "balance_limit_exceeded" and refused.http_status == 422
    assert refused.message == "amount: 미인증 지갑의 잔액은 ₩500,000을 넘을 수 없습니다"
    assert ledger_snapshot() == before and balance_of(user.id) == 400_000
    # A charge order is refused before the customer pays, by the same cap.
    assert _refusal(lambda: services.charge_order_create(user_id=user.id, amount=100_001)).code == \
        "balance_limit_exceeded"
    assert not ChargeOrder.objects.filter(user=user).exists()
    charge(user, 100_000)  # up to the cap exactly

    assert services.wallet_tier_set(user_id=user.id, tier="verified", by=staff_user,
                                    reason="신분증 확인") == ("unverified", "verified")
    charge(user, 1_500_000)
    assert balance_of(user.id) == 2_000_000
    assert _refusal(lambda: charge(user, 1)).message == "amount: 실명인증 지갑의 잔액은 ₩2,000,000을 넘을 수 없습니다"
    action = OperatorAction.objects.get(action="wallet_tier_set", target=f"user:{user.id}")
    assert action.username == staff_user.username and action.detail == "unverified -> verified (operator): 신분증 확인"


def test_lowering_a_tier_keeps_the_balance_and_lets_only_money_out(caps, user_factory, staff_user):
    user, friend = user_factory(), user_factory()
    services.wallet_tier_set(user_id=user.id, tier="verified", by=staff_user, reason="확인")
    charge(user, 900_000)
    charge(friend, 10_000)
    services.wallet_tier_set(user_id=user.id, tier="unverified", by=staff_user, reason="인증 만료")
    assert balance_of(user.id) == 900_000
    assert _refusal(lambda: charge(user, 1_000)).code == "balance_limit_exceeded"
    assert _refusal(lambda: services.wallet_transfer(user_id=friend.id, to=user.username, amount=1_000,
                                                     message="")).code == "recipient_balance_limit_exceeded"
    services.wallet_spend(user_id=user.id, amount=100_000, description="커피")
    assert balance_of(user.id) == 800_000


def test_the_daily_transfer_limit_is_the_senders_tiers(caps, user_factory, staff_user):
    sender, recipient = user_factory(), user_factory()
    services.wallet_tier_set(user_id=recipient.id, tier="verified", by=staff_user, reason="확인")
    charge(sender, 500_000)
    services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=300_000, message="")
    refused = _refusal(lambda: services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=1,
                                                        message=""))
    assert refused.code == "transfer_daily_limit_exceeded" and "₩300,000" in refused.message
    services.wallet_tier_set(user_id=sender.id, tier="verified", by=staff_user, reason="확인")
    services.wallet_transfer(user_id=sender.id, to=recipient.username, amount=200_000, message="")
    assert (balance_of(sender.id), balance_of(recipient.id)) == (0, 500_000)


def test_a_batchs_transfers_follow_the_tiers_too(caps, user_factory):
    sender, recipient = user_factory(), user_factory()
    charge(sender, 500_000)
    charge(recipient, 450_000)
    items = [services.BatchItem(kind="transfer", idempotency=services.IdempotencyKey(key=f"b-{i}", fingerprint=str(i)),
                                amount=amount, to=recipient.username, message="")
             for i, amount in enumerate((40_000, 20_000))]
    result = services.wallet_batch(user_id=sender.id, items=items, atomic=False)
    assert [a.error.code if a.error else "done" for a in result.items] == ["done", "recipient_balance_limit_exceeded"]
    assert balance_of(recipient.id) == 490_000


def test_the_identity_providers_hook_and_what_the_api_shows(caps, api_client_for, user_factory, staff_user):
    user = user_factory()
    shown = api_client_for(user).get(WALLET).json()
    assert (shown["tier"], shown["balanceMax"], shown["transferDailyMax"]) == ("unverified", 500_000, 300_000)

    staff = api_client_for(staff_user)
    body = {"tier": "verified", "source": "identity_provider", "reference": "pass-7f3a"}
    answer = staff.put(f"/api/v1/users/{user.username}/tier", body, format="json")
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"username": user.username, "tier": "verified", "previousTier": "unverified",
                             "balanceMax": 2_000_000, "transferDailyMax": 1_000_000}
    assert Wallet.objects.get(user=user).tier == "verified"
    assert OperatorAction.objects.get(action="wallet_tier_set").detail == \
        "unverified -> verified (identity_provider: pass-7f3a)"
    shown = api_client_for(user).get(WALLET).json()
    assert (shown["tier"], shown["balanceMax"]) == ("verified", 2_000_000)

    # The user cannot set their own tier; an operator must say why; the provider must say which verification.
    assert api_client_for(user).put(f"/api/v1/users/{user.username}/tier", body, format="json").status_code == 403
    for bad, field in (({"tier": "verified"}, "reason"), ({"tier": "gold", "reason": "x"}, "tier"),
                       ({"tier": "verified", "source": "identity_provider"}, "reference")):
        refused = staff.put(f"/api/v1/users/{user.username}/tier", bad, format="json")
        assert refused.status_code == 400 and refused.json()["message"].startswith(f"{field}:"), refused.json()
    assert staff.put("/api/v1/users/nobody/tier", body, format="json").status_code == 404
    assert OperatorAction.objects.filter(action="wallet_tier_set").count() == 1


def test_a_user_without_a_wallet_gets_one_with_the_tier(caps, user, staff_user):
    services.wallet_tier_set(user_id=user.id, tier="verified", by=staff_user, reason="가입 시 인증")
    assert Wallet.objects.get(user=user).tier == "verified"
    charge(user, 1_000_000)
