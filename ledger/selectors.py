"""Reads of the ledger. Every list is bounded."""

from django.db.models import Count, Q, Sum
from django.db.models.functions import Coalesce

from ledger.models import JournalEntry


def ledger_unbalanced_entries(*, limit: int = 1000) -> list[dict]:
    """Entries whose postings do not sum to zero or that have fewer than two postings."""
    rows = (
        JournalEntry.objects.annotate(posting_sum=Coalesce(Sum("postings__amount"), 0), posting_count=Count("postings"))
        .filter(~Q(posting_sum=0) | Q(posting_count__lt=2))
        .order_by("created_at")
        .values("id", "kind", "posting_sum", "posting_count")[:limit]
    )
    return list(rows)
