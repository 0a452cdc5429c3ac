"""The SQL kept as code: each PL/pgSQL function, type and trigger in a file of its own.

``<app>/sql/<name>.sql`` holds the one current definition of ``<name>``; the app's
``sql_config.py`` lists its files (``sql_items``, what django-migrate-sql reads) with what
each depends on. ``manage.py makemigrations`` compares the files with the definitions the
migrations have applied so far and writes a migration for each changed file (``AlterSQL``:
the new text, and the old one to go back). A migration records the text it applied, which
is what keeps a fresh database built from the migrations equal to one migrated step by
step; the file is what a reader opens and what a change edits. An edited file without its
migration fails ``makemigrations --check`` and the test that the database's definitions
equal the files (``prepaid/tests/test_sql.py``); ``plpgsql_check`` checks every function.

Functions are ``CREATE OR REPLACE`` (``replace=True``: a change is one statement); a type or
a trigger cannot be replaced, so a change drops it and everything that depends on it, then
creates them again (django-migrate-sql follows ``dependencies`` to do so). A function whose
arguments change is a new function to PostgreSQL: drop the old one in the migration (the
database-equals-files test fails on a leftover overload).

Pure: reads files, no database.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from django.apps import apps
from django_migrate_sql.config import SQLItem

_CREATE = re.compile(
    r"^CREATE\s+(?:OR\s+REPLACE\s+)?(?P<kind>FUNCTION|TYPE|CONSTRAINT\s+TRIGGER|TRIGGER)\s+(?P<name>\w+)",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class SQLDefinition:
    """One file's definition: what it creates, and the statement that drops it."""

    name: str
    kind: str  # FUNCTION, TYPE or TRIGGER
    sql: str
    drop: str
    body: str | None  # a function's body (between its $$ quotes), as PostgreSQL stores it (prosrc)
    table: str | None  # a trigger's table


def split_top_level(text: str) -> list[str]:
    """``text`` split at commas outside parentheses."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        depth += (char == "(") - (char == ")")
        current.append(char)
    if "".join(current).strip():
        parts.append("".join(current))
    return parts


def function_argument_types(sql: str) -> list[str]:
    """The argument types of the function ``sql`` creates (``p_id uuid`` -> ``uuid``), for its DROP."""
    opening = sql.index("(", _CREATE.search(sql).end())
    depth, closing = 0, opening
    for closing in range(opening, len(sql)):
        depth += (sql[closing] == "(") - (sql[closing] == ")")
        if depth == 0:
            break
    arguments = split_top_level(sql[opening + 1:closing])
    return [" ".join(argument.split()[1:]) for argument in arguments]


def sql_definition_parse(name: str, sql: str) -> SQLDefinition:
    """What ``sql`` (one file's text) defines; ``ValueError`` unless it creates exactly ``name``."""
    created = _CREATE.findall(sql)
    if len(created) != 1 or created[0][1] != name:
        raise ValueError(f"{name}.sql must create exactly one object named {name}, it creates {created}")
    kind = " ".join(created[0][0].upper().split()).replace("CONSTRAINT ", "")
    body = table = None
    if kind == "FUNCTION":
        quoted = re.search(r"\$\$(.*)\$\$", sql, re.S)
        if quoted is None:
            raise ValueError(f"{name}.sql: a function's body is quoted with $$")
        body = quoted.group(1)
        drop = f"DROP FUNCTION {name}({', '.join(function_argument_types(sql))});"
    elif kind == "TYPE":
        drop = f"DROP TYPE {name};"
    else:
        table = re.search(r"\bON\s+(\w+)", sql, re.IGNORECASE).group(1)
        drop = f"DROP TRIGGER {name} ON {table};"
    return SQLDefinition(name=name, kind=kind, sql=sql, drop=drop, body=body, table=table)


def sql_apps() -> list[str]:
    """The labels of the apps that keep SQL as code (an ``sql/`` directory)."""
    return [config.label for config in apps.get_app_configs() if (Path(config.path) / "sql").is_dir()]


def sql_directory(app_label: str) -> Path:
    return Path(apps.get_app_config(app_label).path) / "sql"


def sql_definition(app_label: str, name: str) -> SQLDefinition:
    return sql_definition_parse(name, (sql_directory(app_label) / f"{name}.sql").read_text())


def sql_file(app_label: str, name: str, *, dependencies: tuple[tuple[str, str], ...] = ()) -> SQLItem:
    """The SQLItem of ``<app>/sql/<name>.sql``, for an app's ``sql_items``.

    ``dependencies``: the (app, name) of the items whose existence this one's creation
    needs (a type in its signature, a function a trigger or a SQL function calls)."""
    definition = sql_definition(app_label, name)
    return SQLItem(name, definition.sql, reverse_sql=definition.drop, dependencies=list(dependencies),
                   replace=definition.kind == "FUNCTION")
