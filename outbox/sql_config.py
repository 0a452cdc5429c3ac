"""The outbox's SQL (``outbox/sql/``): its one write, for writers that are themselves SQL."""

from prepaid.sql import sql_file

sql_items = [
    sql_file("outbox", "outbox_event_record"),
    sql_file("outbox", "outbox_key_hash"),
]
