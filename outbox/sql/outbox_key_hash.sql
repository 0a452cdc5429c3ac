-- Kafka's partitioner for a record key: the positive murmur2 hash of its UTF-8 bytes (Kafka's
-- Utils.toPositive(Utils.murmur2(key)), kafka-python's DefaultPartitioner), so that the record's
-- partition is outbox_key_hash(key) % the topic's partition count. An outbox row stores it when it
-- is written (outbox_outboxevent.key_hash) and keeps it when partitions are added: the partition
-- is derived from it with the count of the moment. Arithmetic in bigint, masked to 32 bits.
CREATE OR REPLACE FUNCTION outbox_key_hash(p_key text)
RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  data bytea := convert_to(p_key, 'UTF8');
  length integer := octet_length(data);
  m constant bigint := 1540483477;  -- 0x5bd1e995
  h bigint := 2538058380 # length;  -- the seed 0x9747b28c
  k bigint;
  tail integer := length & ~3;
BEGIN
  FOR i IN 0 .. length / 4 - 1 LOOP
    k := get_byte(data, i * 4)::bigint | (get_byte(data, i * 4 + 1)::bigint << 8)
         | (get_byte(data, i * 4 + 2)::bigint << 16) | (get_byte(data, i * 4 + 3)::bigint << 24);
    k := (k * m) & 4294967295;
    k := k # (k >> 24);
    k := (k * m) & 4294967295;
    h := ((h * m) & 4294967295) # k;
  END LOOP;
  IF length % 4 >= 3 THEN h := h # (get_byte(data, tail + 2)::bigint << 16); END IF;
  IF length % 4 >= 2 THEN h := h # (get_byte(data, tail + 1)::bigint << 8); END IF;
  IF length % 4 >= 1 THEN h := ((h # get_byte(data, tail)::bigint) * m) & 4294967295; END IF;
  h := h # (h >> 13);
  h := (h * m) & 4294967295;
  h := h # (h >> 15);
  RETURN (h & 2147483647)::integer;
END $$;
