"""The SQL kept as code (prepaid/sql.py): the database holds exactly what the files say, every
change of a file has its migration, and plpgsql_check finds nothing in any function."""

import contextlib
import re

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection, transaction
from django_migrate_sql.config import SQLItem

from prepaid.sql import (
    SQLDefinition,
    function_argument_types,
    sql_apps,
    sql_definition,
    sql_definition_parse,
    sql_directory,
)

pytestmark = pytest.mark.django_db

SQL_APPS = sql_apps()


def _definitions() -> list[SQLDefinition]:
    found = []
    for label in SQL_APPS:
        module = __import__(f"{apps.get_app_config(label).name}.sql_config", fromlist=["sql_items"])
        found += [sql_definition(label, item.name) for item in module.sql_items]
    return found


def _as_postgresql_writes_it(trigger: SQLDefinition) -> str:
    """The file's trigger as pg_get_triggerdef writes it: created under another name, read, rolled back."""
    scratch = f"{trigger.name}__file"
    with contextlib.suppress(_RolledBack), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(re.sub(rf"\b{trigger.name}\b", scratch, trigger.sql, count=1))
        (written,) = _rows("SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgname = %s", [scratch])[0]
        raise _RolledBack
    return written.replace(scratch, trigger.name)


class _RolledBack(Exception):
    pass


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_every_file_is_listed_in_its_apps_sql_config():
    on_disk = sorted(path.stem for label in SQL_APPS for path in sql_directory(label).glob("*.sql"))
    assert on_disk == sorted(d.name for d in _definitions()), "a file in <app>/sql/ is missing from sql_config.py"


def test_the_databases_functions_are_the_files():
    definitions = {d.name: d for d in _definitions() if d.kind == "FUNCTION"}
    # Every function of ours in the schema (not an extension's), with its arguments and body.
    in_database = _rows("""
        SELECT p.proname, pg_get_function_identity_arguments(p.oid), p.prosrc
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public'
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')""")
    names = [name for name, _, _ in in_database]
    assert sorted(names) == sorted(definitions), "functions in the database that no file defines, or the reverse"
    for name, arguments, body in in_database:
        expected = definitions[name]
        assert body == expected.body, f"{name}: the database's body differs from {name}.sql (a migration is missing)"
        types = [" ".join(a.split()[1:]) for a in arguments.split(", ")] if arguments else []
        assert types == [t.replace("timestamptz", "timestamp with time zone") for t in
                         function_argument_types(expected.sql)], name


def test_the_databases_triggers_and_types_are_the_files():
    definitions = _definitions()
    triggers = {d.name: d for d in definitions if d.kind == "TRIGGER"}
    in_database = dict(_rows("""
        SELECT t.tgname, pg_get_triggerdef(t.oid) FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND NOT t.tgisinternal
           AND t.tgparentid = 0  -- a partitioned table's trigger, not its copy on each partition"""))
    assert sorted(in_database) == sorted(triggers)
    for name, definition in in_database.items():
        assert definition == _as_postgresql_writes_it(triggers[name]), name

    for d in (d for d in definitions if d.kind == "TYPE"):
        attributes = _rows("""
            SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_type t
              JOIN pg_attribute a ON a.attrelid = t.typrelid
             WHERE t.typname = %s AND a.attnum > 0 ORDER BY a.attnum""", [d.name])
        declared = re.findall(r"^\s+(\w+) ([\w ]+?),?$", d.sql, re.M)
        assert [(n, t.replace("timestamptz", "timestamp with time zone")) for n, t in declared] == attributes


def test_an_edited_file_without_its_migration_fails_makemigrations_check(monkeypatch):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)  # as the tree is: nothing to write

    import wallets.sql_config as config

    spend = next(item for item in config.sql_items if item.name == "wallet_spend")
    edited = SQLItem(spend.name, spend.sql.replace("available < p_amount", "available <= p_amount"),
                     reverse_sql=spend.reverse_sql, dependencies=spend.dependencies, replace=True)
    monkeypatch.setattr(config, "sql_items", [edited if i is spend else i for i in config.sql_items])
    with pytest.raises(SystemExit):
        call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_plpgsql_check_finds_nothing_in_any_function():
    with connection.cursor() as cursor:
        cursor.execute("CREATE EXTENSION IF NOT EXISTS plpgsql_check")
    findings = []
    for d in _definitions():
        if d.kind != "FUNCTION" or "LANGUAGE plpgsql" not in d.sql:
            continue
        trigger_tables = [t.table for t in _definitions() if t.kind == "TRIGGER" and f"{d.name}()" in t.sql]
        relation = trigger_tables[0] if trigger_tables else 0
        for (line,) in _rows("SELECT * FROM plpgsql_check_function(%s::regproc, %s::regclass, "
                             "extra_warnings := true, performance_warnings := false)",
                             [d.name, relation or "0"]):
            findings.append(f"{d.name}: {line}")
    assert findings == []


@pytest.mark.parametrize(("sql", "drop"), [
    ("CREATE OR REPLACE FUNCTION f(p_a integer, p_b bigint[], p_c timestamptz) RETURNS void LANGUAGE sql AS $$ $$;",
     "DROP FUNCTION f(integer, bigint[], timestamptz);"),
    ("CREATE OR REPLACE FUNCTION f() RETURNS bigint LANGUAGE sql AS $$ SELECT 1 $$;", "DROP FUNCTION f();"),
    ("CREATE TYPE f AS (a text);", "DROP TYPE f;"),
    ("CREATE CONSTRAINT TRIGGER f AFTER INSERT ON t DEFERRABLE FOR EACH ROW EXECUTE FUNCTION g();",
     "DROP TRIGGER f ON t;"),
])
def test_a_files_drop_statement_is_derived_from_its_definition(sql, drop):
    assert sql_definition_parse("f", sql).drop == drop


def test_a_file_must_create_the_object_it_is_named_after():
    with pytest.raises(ValueError, match="exactly one"):
        sql_definition_parse("g", "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;")
