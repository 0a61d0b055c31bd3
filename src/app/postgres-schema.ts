// The PostgreSQL store's schema: the documents, the key and byte counters, and one function
// that applies a whole round of writes, so a round is one statement, one round trip and one
// transaction. The function does what the writes would do one by one, with the rows locked,
// so If-Match holds across instances, and sends each change's NOTIFY (delivered at commit).

/** The LISTEN/NOTIFY channel every instance shares. */
export const CHANGE_CHANNEL = "gnp_changes";
/** Values up to this size travel inside the notification; larger ones are read back by key. */
export const INLINE_VALUE_BYTES = 4096;
/**
 * Longest key this store accepts. A NOTIFY payload must stay under 8000 bytes and the key
 * travels in it, JSON-escaped (at worst 6 bytes a byte); gnp's own commands allow 512. A value
 * travels inline only while the escaped key is at most 1024 bytes, so base64 (at most 5464
 * bytes), key and the rest stay under the limit.
 */
export const MAX_POSTGRES_KEY_BYTES = 1024;
/**
 * Rows of the counters table. Each round adds its deltas to the row of its backend, so the
 * rounds of several instances rarely wait for one another's row lock; INFO adds the rows up.
 */
export const COUNTER_SHARDS = 16;

// Two instances creating the schema at once can collide in the catalog; a lock makes them take turns.
const SCHEMA_LOCK = `SELECT pg_advisory_xact_lock(7160291830251183616)`;

/**
 * The write function. `ops` is JSON, one object per write in order: k key, o 1 for PUT and
 * 2 for DEL, e the If-Match version or null, n the notification number, s the value's length
 * in `vals`, where the values lie end to end. One row per write: `version` is the version
 * written (for DEL the deletion's, one above the deleted document's), null when nothing was
 * written; `current` the version the key had; `conflict` true when If-Match failed.
 *
 * "n" is a number unique within the instance: PostgreSQL folds identical payloads sent in one
 * transaction into one, and PUT k v1, DEL k, PUT k v1 in one round would otherwise lose one.
 */
const WRITE_FUNCTION = `
CREATE OR REPLACE FUNCTION gnp_write_round_v1(ops text, vals bytea)
RETURNS TABLE (version bigint, current bigint, conflict boolean) LANGUAGE plpgsql AS $fn$
DECLARE
  op record;
  at integer := 1;
  v bytea;
  cur_version bigint;
  cur_size integer;
  d_keys bigint := 0;
  d_bytes bigint := 0;
BEGIN
  -- The rows this round touches, locked in key order: two rounds of different instances that
  -- both touch k1 and k2 wait for each other instead of deadlocking.
  PERFORM 1 FROM gnp_documents d WHERE d.key IN (SELECT x.k FROM json_to_recordset(ops::json) AS x(k text)) ORDER BY d.key FOR UPDATE;
  FOR op IN SELECT x.k, x.o, x.e, x.n, x.s FROM ROWS FROM (json_to_recordset(ops::json) AS (k text, o integer, e bigint, n bigint, s integer)) WITH ORDINALITY AS x(k, o, e, n, s, i)
    ORDER BY x.i LOOP
    v := CASE WHEN op.o = 1 THEN substring(vals FROM at FOR op.s) END;
    at := at + coalesce(op.s, 0);
    -- Bounded in practice: it repeats only when another instance created the key in between.
    LOOP
      SELECT d.version, octet_length(d.value) INTO cur_version, cur_size FROM gnp_documents d WHERE d.key = op.k FOR UPDATE;
      IF NOT FOUND THEN cur_version := NULL; cur_size := 0; END IF;
      IF op.e IS NOT NULL AND coalesce(cur_version, 0) <> op.e THEN
        version := NULL; current := cur_version; conflict := true;
        EXIT;
      END IF;
      conflict := false; current := cur_version;
      IF op.o = 2 THEN
        IF cur_version IS NULL THEN version := NULL; EXIT; END IF;
        DELETE FROM gnp_documents d WHERE d.key = op.k;
        version := cur_version + 1;
        d_keys := d_keys - 1; d_bytes := d_bytes - cur_size;
        PERFORM pg_notify('${CHANGE_CHANNEL}', json_build_object('op', 'DEL', 'key', op.k, 'version', version, 'n', op.n)::text);
        EXIT;
      END IF;
      IF cur_version IS NULL THEN
        INSERT INTO gnp_documents AS d (key, value, version) VALUES (op.k, v, 1) ON CONFLICT (key) DO NOTHING;
        CONTINUE WHEN NOT FOUND;
        version := 1; d_keys := d_keys + 1; d_bytes := d_bytes + octet_length(v);
      ELSE
        UPDATE gnp_documents d SET value = v, version = cur_version + 1 WHERE d.key = op.k;
        version := cur_version + 1; d_bytes := d_bytes + octet_length(v) - cur_size;
      END IF;
      PERFORM pg_notify('${CHANGE_CHANNEL}', json_build_object('op', 'PUT', 'key', op.k, 'version', version, 'n', op.n, 'value',
        CASE WHEN octet_length(v) <= ${INLINE_VALUE_BYTES} AND octet_length(to_json(op.k)::text) <= ${MAX_POSTGRES_KEY_BYTES}
        THEN translate(encode(v, 'base64'), E'\\n', '') END)::text);
      EXIT;
    END LOOP;
    RETURN NEXT;
  END LOOP;
  IF d_keys <> 0 OR d_bytes <> 0 THEN
    INSERT INTO gnp_counts AS c (shard, keys, bytes) VALUES (pg_backend_pid() % ${COUNTER_SHARDS}, d_keys, d_bytes)
    ON CONFLICT (shard) DO UPDATE SET keys = c.keys + excluded.keys, bytes = c.bytes + excluded.bytes;
  END IF;
END
$fn$`;

/**
 * Run in one transaction at open. The counters are filled by one scan when their table is
 * new (a new database, or one written before counters existed), in the same transaction as
 * its creation, so no instance ever sees it empty; from then on every round moves them.
 */
export const SCHEMA_STATEMENTS = [
  SCHEMA_LOCK,
  `CREATE TABLE IF NOT EXISTS gnp_documents (key text COLLATE "C" PRIMARY KEY, value bytea NOT NULL, version bigint NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS gnp_counts (shard integer PRIMARY KEY, keys bigint NOT NULL, bytes bigint NOT NULL)`,
  `INSERT INTO gnp_counts (shard, keys, bytes)
   SELECT -1, s.keys, s.bytes FROM (SELECT count(*) AS keys, coalesce(sum(octet_length(value)), 0) AS bytes FROM gnp_documents) s
   WHERE NOT EXISTS (SELECT 1 FROM gnp_counts)`,
  WRITE_FUNCTION,
];

export const WRITE_ROUND = `SELECT version, current, conflict FROM gnp_write_round_v1($1, $2)`;
export const COUNTS = `SELECT coalesce(sum(keys), 0)::bigint AS keys, coalesce(sum(bytes), 0)::bigint AS bytes FROM gnp_counts`;
export const SELECT_ONE = `SELECT value, version FROM gnp_documents WHERE key = $1`;
// Prefix match by range, so the primary key's index serves it (no LIKE, so no escaping).
export const KEYS_RANGE = `SELECT key FROM gnp_documents WHERE key >= $1 AND key < $2 ORDER BY key LIMIT $3`;
export const KEYS_FROM = `SELECT key FROM gnp_documents WHERE key >= $1 ORDER BY key LIMIT $2`;
