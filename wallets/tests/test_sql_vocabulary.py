"""One vocabulary: the SQL (``<app>/sql/``) writes codes, kinds, statuses, event types, outcomes,
account codes, the currency and the event schema version that Python defines, and Python's
values that only the SQL writes are all written by it. Python is the source; these tests fail
on a literal in the SQL that Python does not know, and on a Python value the SQL never uses.
"""

import json
import re
from pathlib import Path

from django.conf import settings

from ledger.models import Account, AccountKind
from prepaid.events import SCHEMA_PATH, SCHEMA_VERSION, EventType
from prepaid.money import CURRENCY
from prepaid.sql import split_top_level, sql_directory
from wallets.errors import WalletErrorCode, WalletRefusal
from wallets.models import (
    EXPIRED_ACCOUNT_CODE_PREFIX,
    WALLET_ACCOUNT_CODE_PREFIX,
    HoldPurpose,
    HoldStatus,
    OperationKind,
    PaymentStatus,
    PayoutStatus,
    RefundGround,
    RefundRequestStatus,
    RefundStatus,
    WalletTier,
)
from wallets.selectors import TIER_LIMITS
from wallets.services import BATCH_ITEM_FIELDS, BATCH_KINDS, REFUND_RULES, Outcome

SQL_APPS = ("ledger", "outbox", "wallets")  # the money's SQL (the audit store's speaks of partitions)
# Words of PostgreSQL's, not ours: the conditions the SQL raises, to_char's format, a time zone, an empty
# JSON object, the separator of an advisory lock's key, an encoding; and an SQLSTATE of the class P that a
# function raises and catches itself (wallet_batch's rollback of an all-or-nothing batch).
POSTGRES_WORDS = re.compile(r"^(check_violation|restrict_violation|no_data_found|YYYY-MM-DD.*|UTC|\{\}|:|UTF8|"
                            r"P[A-Z0-9]{4})$")


def _code(text: str) -> str:
    """The SQL without comments."""
    return re.sub(r"--[^\n]*", "", text)


def _sql() -> str:
    paths = [path for label in SQL_APPS for path in sorted(sql_directory(label).glob("*.sql"))]
    return "\n".join(_code(path.read_text()) for path in paths)


def _literals(sql: str) -> list[str]:
    return [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", sql)]


def _calls(sql: str, function: str) -> list[list[str]]:
    """The arguments of every call of ``function`` in ``sql``."""
    found = []
    for match in re.finditer(rf"(?<!FUNCTION )\b{function}\(", sql):  # calls, not its definition
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(sql)):
            depth += (sql[end] == "(") - (sql[end] == ")")
            if depth == 0:
                break
        found.append([argument.strip() for argument in split_top_level(sql[match.end():end])])
    return found


def _unquoted(argument: str) -> str | None:
    return argument[1:-1] if re.fullmatch(r"'[^']*'", argument) else None


def _schema_properties() -> set[str]:
    names: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(json.loads(SCHEMA_PATH.read_text()))
    return names


def _detail_keys_read_by_python() -> set[str]:
    """The refusal details' keys that wallets/errors.py and wallets/services.py read."""
    source = "".join((Path(settings.BASE_DIR) / "wallets" / name).read_text() for name in ("errors.py", "services.py"))
    return {a or b for a, b in re.findall(r"""(?:\bd|detail)\[["'](\w+)["']\]|\bd\.get\(["'](\w+)["']""", source)}


UPPER_CASE = {*OperationKind.values, *PaymentStatus.values, *RefundStatus.values, *AccountKind.values, *EventType,
              *HoldStatus.values, *HoldPurpose.values, *RefundRequestStatus.values, *PayoutStatus.values, CURRENCY}
SYSTEM_ACCOUNT_CODES = {Account.PAYMENT_CLEARING_CODE, Account.MERCHANT_SETTLEMENT_CODE, Account.PAYOUT_CLEARING_CODE,
                        Account.EXPIRY_INCOME_CODE}


def test_every_upper_case_literal_in_the_sql_is_a_python_kind_status_event_type_or_currency():
    unknown = {lit for lit in _literals(_sql()) if re.fullmatch(r"[A-Z][A-Z_]+", lit)} - UPPER_CASE
    unknown = {word for word in unknown if not POSTGRES_WORDS.match(word)}
    assert unknown == set()


def test_every_kind_status_and_event_type_python_defines_is_written_by_the_sql():
    used = set(_literals(_sql()))
    written_by_sql = {*OperationKind.values, *PaymentStatus.values, *RefundStatus.values, *AccountKind.values,
                      *EventType, *HoldStatus.values, *HoldPurpose.values, *RefundRequestStatus.values,
                      *PayoutStatus.values}
    assert written_by_sql - used == set()


def test_every_refusal_code_in_the_sql_is_a_python_error_code_and_every_error_code_is_answered_somewhere():
    sql = _sql()
    refused = {_unquoted(args[0]) for args in _calls(sql, "wallet_refusal")}
    assert None not in refused, "wallet_refusal called with a code that is not a literal"
    assert refused - {*WalletErrorCode, *WalletRefusal} == set()
    # The reverse: a code nobody answers with is a documented lie (the SQL, or Python raising it).
    python = "".join(path.read_text() for path in (Path(settings.BASE_DIR) / "wallets").glob("*.py")
                     if path.name != "errors.py")
    raised_by_python = {code for code in WalletErrorCode if f"WalletErrorCode.{code.name}" in python}
    assert {*WalletErrorCode} - refused - raised_by_python == set()
    assert {*WalletRefusal} - refused == set()


def test_every_outcome_in_the_sql_is_a_python_outcome_and_back():
    sql = _sql()
    answered = {_unquoted(args[0]) for args in _calls(sql, "ROW")} | {
        _unquoted(args[0]) for args in _calls(sql, "wallet_entry_result")}
    answered.discard(None)  # wallet_entry_result(p_outcome, ...) passes its caller's on
    assert answered == {*Outcome}


def test_account_codes_currency_and_schema_version_are_pythons():
    sql = _sql()
    codes = {lit for lit in _literals(sql) if re.fullmatch(r"(system|wallet|expired):[\w-]*", lit)}
    assert codes == SYSTEM_ACCOUNT_CODES | {WALLET_ACCOUNT_CODE_PREFIX, EXPIRED_ACCOUNT_CODE_PREFIX}
    versions = re.findall(r"'schemaVersion',\s*(\w+)", sql)
    assert versions and {int(v) for v in versions} == {SCHEMA_VERSION}


def test_every_json_key_the_sql_writes_is_in_the_event_schema_or_read_by_the_refusal_messages():
    known = _schema_properties() | _detail_keys_read_by_python()
    keys = {_unquoted(args[i]) for args in _calls(_sql(), "jsonb_build_object") for i in range(0, len(args), 2)}
    assert None not in keys, "a jsonb_build_object key that is not a literal"
    assert keys - known == set()


def test_no_other_word_of_ours_hides_in_the_sql():
    """Whatever is not a message, a table or PostgreSQL's own word is one of the vocabularies above."""
    sql = _sql()
    known = (UPPER_CASE | SYSTEM_ACCOUNT_CODES | {WALLET_ACCOUNT_CODE_PREFIX, EXPIRED_ACCOUNT_CODE_PREFIX}
             | {*WalletErrorCode} | {*WalletRefusal}
             | {*Outcome} | _schema_properties() | _detail_keys_read_by_python() | {""}
             | {*BATCH_KINDS, *BATCH_ITEM_FIELDS}  # what a batch's items hold (wallet_batch.sql)
             | {*WalletTier.values, *TIER_LIMITS}  # the verification tiers and their limits (wallet_tier_limit)
             | {*RefundGround.values, *REFUND_RULES})  # a refund request's grounds and rules
    tables = set(re.findall(r"\b(ledger_\w+|wallets_\w+|outbox_\w+)\b", sql))
    words = {lit for lit in _literals(sql) if " " not in lit and "%" not in lit}
    assert {w for w in words - known - tables if not POSTGRES_WORDS.match(w)} == set()


def test_the_checks_see_a_literal_python_does_not_define():
    """The tests above can fail: a made-up code and kind are caught."""
    sql = "SELECT wallet_refusal('made_up_code', NULL); SELECT 'MADE_UP_KIND';"
    assert {_unquoted(a[0]) for a in _calls(sql, "wallet_refusal")} - {*WalletErrorCode} == {"made_up_code"}
    assert {lit for lit in _literals(sql) if re.fullmatch(r"[A-Z][A-Z_]+", lit)} - UPPER_CASE == {"MADE_UP_KIND"}


def test_a_batch_item_holds_what_wallet_batch_reads_and_nothing_else():
    import uuid

    from wallets.services import BatchItem, IdempotencyKey, _batch_item_params

    read = set(re.findall(r"item->>'(\w+)'", _code((sql_directory("wallets") / "wallet_batch.sql").read_text())))
    key = IdempotencyKey(key="k", fingerprint="f")
    written = set().union(*(_batch_item_params(BatchItem(kind=kind, idempotency=key, amount=1,
                                                         transaction_id=uuid.uuid4(), hold_id=uuid.uuid4())).keys()
                            for kind in BATCH_KINDS))
    assert read == written == set(BATCH_ITEM_FIELDS)
