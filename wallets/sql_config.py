"""The wallet operations' SQL (``wallets/sql/``): one function per operation, and their parts.

Every function that takes or returns a ``wallet_operation_result`` depends on the type: a
change of the type drops and creates them again (prepaid/sql.py).
"""

from prepaid.sql import sql_file

RESULT = ("wallets", "wallet_operation_result")
HOLD_RESULT = ("wallets", "wallet_hold_result")
HELD = ("wallets", "wallet_held")


def _function(name: str, *more: tuple[str, str]):
    return sql_file("wallets", name, dependencies=(RESULT, *more))


sql_items = [
    sql_file("wallets", "wallet_operation_result"),
    _function("wallet_refusal"),
    sql_file("wallets", "wallet_operation_append_only", dependencies=(("ledger", "ledger_refuse_change"),)),
    sql_file("wallets", "wallet_operation_balance_after"),
    _function("wallet_entry_result"),
    _function("wallet_refund_result"),
    sql_file("wallets", "wallet_merchant_settlement_account", dependencies=(("ledger", "ledger_system_account_id"),)),
    sql_file("wallets", "wallet_payment_clearing_account", dependencies=(("ledger", "ledger_system_account_id"),)),
    _function("wallet_idempotency_claim", ("wallets", "wallet_operation_balance_after")),
    _function("wallet_idempotency_answer"),
    sql_file("wallets", "wallet_event_record", dependencies=(("outbox", "outbox_event_record"),)),
    sql_file("wallets", "wallet_open"),
    sql_file("wallets", "wallet_tier_limit"),
    _function("wallet_entry_apply"),
    sql_file("wallets", "wallet_held"),
    sql_file("wallets", "wallet_hold_result"),
    sql_file("wallets", "wallet_hold_answer", dependencies=(HOLD_RESULT, HELD)),
    sql_file("wallets", "wallet_hold_refusal", dependencies=(HOLD_RESULT, RESULT)),
    sql_file("wallets", "wallet_hold_release"),
    sql_file("wallets", "wallet_hold_place", dependencies=(HOLD_RESULT,)),
    sql_file("wallets", "wallet_hold_void", dependencies=(HOLD_RESULT,)),
    sql_file("wallets", "wallet_hold_expire"),
    _function("wallet_hold_capture"),
    _function("wallet_transfer_apply"),
    _function("wallet_transfer", ("wallets", "wallet_tier_limit")),
    _function("wallet_spend"),
    sql_file("wallets", "wallet_reversible_amount"),
    _function("wallet_reverse"),
    _function("wallet_charge_begin", ("wallets", "wallet_tier_limit")),
    _function("wallet_charge_credit"),
    _function("wallet_charge_decline"),
    _function("wallet_refund_complete"),
    _function("wallet_refund_fail"),
    _function("wallet_refund_record"),
    sql_file("wallets", "wallet_payout_clearing_account", dependencies=(("ledger", "ledger_system_account_id"),)),
    sql_file("wallets", "wallet_expiry_income_account", dependencies=(("ledger", "ledger_system_account_id"),)),
    sql_file("wallets", "wallet_expired_account", dependencies=(("ledger", "ledger_system_account_id"),)),
    sql_file("wallets", "wallet_fresh_amount"),
    sql_file("wallets", "wallet_expired_refundable"),
    _function("wallet_expire", ("wallets", "wallet_fresh_amount"), ("wallets", "wallet_expired_account"),
              ("wallets", "wallet_entry_apply")),
    sql_file("wallets", "wallet_expiry_notice", dependencies=(("wallets", "wallet_fresh_amount"),
                                                              ("wallets", "wallet_event_record"))),
    sql_file("wallets", "wallet_payout_begin", dependencies=(HELD,)),
    _function("wallet_refund_request_begin", ("wallets", "wallet_payout_begin"),
              ("wallets", "wallet_expired_refundable"), ("wallets", "wallet_reversible_amount")),
    _function("wallet_payout_complete", ("wallets", "wallet_payout_clearing_account"),
              ("wallets", "wallet_expiry_income_account"), ("wallets", "wallet_expired_account")),
    sql_file("wallets", "wallet_payout_fail", dependencies=(("wallets", "wallet_hold_release"),)),
    sql_file("wallets", "wallet_refund_request_settle", dependencies=(HELD, ("wallets", "wallet_event_record"))),
    _function("wallet_batch", ("wallets", "wallet_spend"), ("wallets", "wallet_transfer"),
              ("wallets", "wallet_reverse"), ("wallets", "wallet_hold_capture"), ("wallets", "wallet_open")),
]
