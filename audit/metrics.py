"""The audit store's metrics (prepaid/metrics.py tells how they are served)."""

from prometheus_client import Counter, Gauge

EVENTS = Counter("prepaid_audit_events", "Events the audit consumer handled, by outcome (stored, duplicate).",
                 ["outcome"])
LAST_SEAL = Gauge("prepaid_audit_last_seal_timestamp_seconds", "When the chain heads were last sealed.",
                  multiprocess_mode="mostrecent")
VERIFY_BREAKS = Gauge("prepaid_audit_verify_breaks", "Chain breaks the last audit_verify found (0: intact).",
                      multiprocess_mode="mostrecent")
RECONCILE_MISMATCHES = Gauge("prepaid_audit_reconcile_mismatches", "Operations or holds without exactly their events "
                             "in the audit store, and stored events without a source, at the last audit_reconcile.",
                             multiprocess_mode="mostrecent")
