"""What a read costs, from PostgreSQL's own account: each statement a read runs, explained with ANALYZE,
and the rows its plan's nodes read from tables and indexes (including those a filter threw away).
A read bounded by its page reads about the page's rows however long the history behind it; one that
sorts or aggregates the history reads all of it."""

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext

SCANS = ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan")


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def statement_rows_read(sql: str) -> tuple[int, str]:
    """Rows the statement's scans read (each node's rows times its loops, plus what filters removed), and its
    plan as text (for the failure message). Runs it (EXPLAIN ANALYZE) in a savepoint rolled back."""
    with connection.cursor() as cursor:
        cursor.execute("SAVEPOINT explain_rows")
        try:
            cursor.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + sql)
            (document,) = cursor.fetchone()
            cursor.execute("EXPLAIN " + sql)
            text = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("ROLLBACK TO SAVEPOINT explain_rows")
    plan = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
    read = 0
    for node in _nodes(plan):
        if node["Node Type"] in SCANS:
            read += (node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
                     + node.get("Rows Removed by Index Recheck", 0)) * node["Actual Loops"]
    return read, text


def rows_read(read) -> list[tuple[int, str, str]]:
    """Run ``read()`` and explain each SELECT it ran: (rows read, SQL, plan) per statement."""
    with CaptureQueriesContext(connection) as captured:
        read()
    statements = []
    for query in captured.captured_queries:
        sql = query["sql"]
        if sql.lstrip().upper().startswith("SELECT"):
            count, plan = statement_rows_read(sql)
            statements.append((count, sql, plan))
    return statements


def assert_reads_at_most(read, limit: int) -> None:
    """Every statement ``read()`` runs reads at most ``limit`` rows."""
    statements = rows_read(read)
    assert statements, "the read ran no SELECT"
    for count, sql, plan in statements:
        lines = "\n".join(line[:160] for line in plan.splitlines()[:40])
        assert count <= limit, f"{count} rows read (at most {limit}) by\n{sql[:600]}\n{lines}"
