"""The audit store's SQL (``audit/sql/``): its partitions and its append-only triggers."""

from prepaid.sql import sql_file

REFUSE = ("audit", "audit_refuse_change")

sql_items = [
    sql_file("audit", "audit_refuse_change"),
    sql_file("audit", "audit_auditevent_append_only", dependencies=(REFUSE,)),
    sql_file("audit", "audit_seal_append_only", dependencies=(REFUSE,)),
    sql_file("audit", "audit_partition_ensure"),
]
