"""Relays by partition (issue 23): each outbox row stores its key's Kafka partitioner hash (a stored
generated column, so every writer's rows have it), and the relays' shared view of each topic.

Adding a stored column rewrites the outbox table under an exclusive lock: on a large outbox, purge
the published rows first (``outbox_purge_published``); the pending ones are few.
"""

import django_migrate_sql.operations
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('outbox', '0004_sql_from_files'),
    ]

    operations = [
        django_migrate_sql.operations.CreateSQL(
            name='outbox_key_hash',
            sql="-- Kafka's partitioner for a record key: the positive murmur2 hash of its UTF-8 bytes (Kafka's\n-- Utils.toPositive(Utils.murmur2(key)), kafka-python's DefaultPartitioner), so that the record's\n-- partition is outbox_key_hash(key) % the topic's partition count. An outbox row stores it when it\n-- is written (outbox_outboxevent.key_hash) and keeps it when partitions are added: the partition\n-- is derived from it with the count of the moment. Arithmetic in bigint, masked to 32 bits.\nCREATE OR REPLACE FUNCTION outbox_key_hash(p_key text)\nRETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$\nDECLARE\n  data bytea := convert_to(p_key, 'UTF8');\n  length integer := octet_length(data);\n  m constant bigint := 1540483477;  -- 0x5bd1e995\n  h bigint := 2538058380 # length;  -- the seed 0x9747b28c\n  k bigint;\n  tail integer := length & ~3;\nBEGIN\n  FOR i IN 0 .. length / 4 - 1 LOOP\n    k := get_byte(data, i * 4)::bigint | (get_byte(data, i * 4 + 1)::bigint << 8)\n         | (get_byte(data, i * 4 + 2)::bigint << 16) | (get_byte(data, i * 4 + 3)::bigint << 24);\n    k := (k * m) & 4294967295;\n    k := k # (k >> 24);\n    k := (k * m) & 4294967295;\n    h := ((h * m) & 4294967295) # k;\n  END LOOP;\n  IF length % 4 >= 3 THEN h := h # (get_byte(data, tail + 2)::bigint << 16); END IF;\n  IF length % 4 >= 2 THEN h := h # (get_byte(data, tail + 1)::bigint << 8); END IF;\n  IF length % 4 >= 1 THEN h := ((h # get_byte(data, tail)::bigint) * m) & 4294967295; END IF;\n  h := h # (h >> 13);\n  h := (h * m) & 4294967295;\n  h := h # (h >> 15);\n  RETURN (h & 2147483647)::integer;\nEND $$;\n",
            reverse_sql='DROP FUNCTION outbox_key_hash(text);',
        ),
        migrations.CreateModel(
            name='OutboxTopic',
            fields=[
                ('name', models.CharField(max_length=249, primary_key=True, serialize=False)),
                ('partitions', models.PositiveIntegerField()),
                ('paused_until', models.DateTimeField(blank=True, null=True)),
                ('paused_reason', models.CharField(blank=True, default='', max_length=200)),
                ('updated_at', models.DateTimeField(auto_now=True)),
            ],
        ),
        migrations.AddField(
            model_name='outboxevent',
            name='key_hash',
            field=models.GeneratedField(db_persist=True, expression=models.Func(models.F('key'), function='outbox_key_hash', output_field=models.IntegerField()), output_field=models.IntegerField()),
        ),
    ]
