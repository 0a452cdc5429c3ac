"""Database helpers shared by the apps."""

from django.db.models import QuerySet


def delete_in_batches(queryset: QuerySet, *, batch_size: int, max_batches: int | None = None) -> int:
    """Delete what ``queryset`` selects, ``batch_size`` rows per statement (short locks, bounded WAL bursts)."""
    deleted = batches = 0
    while max_batches is None or batches < max_batches:
        ids = list(queryset.values_list("pk", flat=True)[:batch_size])
        if not ids:
            break
        deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]
        batches += 1
    return deleted
