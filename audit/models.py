"""The audit store: every wallet event, kept for years, in hash chains anyone can check.

``AuditEvent`` rows live in a table partitioned by month of the event's time (created by
``audit/migrations/0001_initial.py``; the partitions for the coming months by the scheduled
``audit_partitions_ensure``). Its primary key is (event id, time), the partition key being
part of every unique index; an event's time never changes, so it is the event id that is
unique. UPDATE and DELETE are refused by a trigger (``audit/sql/``).

Each user's events form one chain, in the order they were stored (a user's events arrive in
commit order: one Kafka partition per user): a row's ``hash`` is sha256 of the previous row's
hash and the row's own content (``audit.services.audit_content``); ``ChainHead`` holds each
chain's last (seq, hash), locked by whoever appends to it (``audit.services.audit_events_record``).
``Seal`` rows fix the heads of every chain once a day: a rewrite of history that recomputed every
hash after it still disagrees with the seals.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64  # the "previous hash" of a chain's first row


class AuditEvent(models.Model):
    # unique (the table's key is (event_id, occurred_at))
    event_id = models.UUIDField(primary_key=True, verbose_name=_("event id"))
    user_id = models.IntegerField(verbose_name=_("user id"))
    seq = models.BigIntegerField(verbose_name=_("seq"))  # its place in its user's chain, from 1
    event_type = models.CharField(max_length=64, verbose_name=_("event type"))
    occurred_at = models.DateTimeField(verbose_name=_("occurred at"))  # the event's time: the partition key
    payload = models.JSONField(verbose_name=_("payload"))
    kafka_topic = models.CharField(max_length=255, verbose_name=_("kafka topic"))
    kafka_partition = models.IntegerField(verbose_name=_("kafka partition"))
    kafka_offset = models.BigIntegerField(verbose_name=_("kafka offset"))
    received_at = models.DateTimeField(verbose_name=_("received at"))
    previous_hash = models.CharField(max_length=64, verbose_name=_("previous hash"))
    hash = models.CharField(max_length=64, verbose_name=_("hash"))

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        managed = False  # a partitioned table: created and changed by SQL in the migrations
        db_table = "audit_auditevent"
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.event_type} of user {self.user_id} #{self.seq}"


class ChainHead(models.Model):
    user_id = models.IntegerField(primary_key=True, verbose_name=_("user id"))
    seq = models.BigIntegerField(verbose_name=_("seq"))
    hash = models.CharField(max_length=64, verbose_name=_("hash"))
    updated_at = models.DateTimeField(verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("chain head")
        verbose_name_plural = _("chain heads")

    def __str__(self) -> str:
        return f"chain of user {self.user_id} at #{self.seq}"


class RetentionCut(models.Model):
    """A month partition archived, then dropped, its events older than ``AUDIT_RETENTION_DAYS``: where
    each chain it held was cut (its last row's seq and hash), for ``audit_verify`` to start from."""

    partition = models.CharField(max_length=63, unique=True, verbose_name=_("partition"))
    upper_bound = models.DateTimeField(verbose_name=_("upper bound"))  # every event it held is older than this
    rows = models.BigIntegerField(verbose_name=_("rows"))
    archive = models.CharField(max_length=500, verbose_name=_("archive"))  # the JSON Lines file its rows went to (gzip)
    archive_sha256 = models.CharField(max_length=64, verbose_name=_("archive sha256"))
    heads = models.JSONField(verbose_name=_("heads"))  # {user id: [seq, hash]} of the last row of each chain in it
    dropped_at = models.DateTimeField(verbose_name=_("dropped at"))

    class Meta:
        verbose_name = _("retention cut")
        verbose_name_plural = _("retention cuts")
        ordering = ["-upper_bound"]

    def __str__(self) -> str:
        return f"{self.partition} ({self.rows:,} rows) dropped {self.dropped_at:%Y-%m-%d}"


class Seal(models.Model):
    """The heads of every chain at one moment, chained to the seal before: sealed once a day."""

    sealed_at = models.DateTimeField(unique=True, verbose_name=_("sealed at"))
    heads = models.JSONField(verbose_name=_("heads"))  # {user id: [seq, hash]}
    heads_hash = models.CharField(max_length=64, verbose_name=_("heads hash"))  # sha256 of the heads, canonical
    previous_seal_hash = models.CharField(max_length=64, verbose_name=_("previous seal hash"))
    seal_hash = models.CharField(max_length=64, verbose_name=_("seal hash"))  # sha256(previous seal hash + heads hash)

    class Meta:
        verbose_name = _("seal")
        verbose_name_plural = _("seals")
        ordering = ["-sealed_at"]

    def __str__(self) -> str:
        return f"seal {self.sealed_at:%Y-%m-%d %H:%M} {self.seal_hash[:12]}"
