"""The ledger's SQL (``ledger/sql/``): the append-only and balanced-entry triggers, and its writes."""

from prepaid.sql import sql_file

sql_items = [
    sql_file("ledger", "ledger_refuse_change"),
    sql_file("ledger", "ledger_journalentry_append_only", dependencies=(("ledger", "ledger_refuse_change"),)),
    sql_file("ledger", "ledger_posting_append_only", dependencies=(("ledger", "ledger_refuse_change"),)),
    sql_file("ledger", "ledger_entry_balance_check"),
    sql_file("ledger", "ledger_check_entry_balanced"),
    sql_file("ledger", "ledger_check_posting_balanced"),
    sql_file("ledger", "ledger_journalentry_balanced", dependencies=(("ledger", "ledger_check_entry_balanced"),)),
    sql_file("ledger", "ledger_posting_balanced", dependencies=(("ledger", "ledger_check_posting_balanced"),)),
    sql_file("ledger", "ledger_system_account_id"),
    sql_file("ledger", "ledger_entry_append"),
]
