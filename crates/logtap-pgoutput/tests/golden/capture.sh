#!/usr/bin/env bash
# Regenerates the golden pgoutput captures in this directory from a real
# PostgreSQL server (the project's scripts/services instance, or any server
# with wal_level=logical and max_prepared_transactions > 0; the harness
# leaves the latter at 0: ALTER SYSTEM SET max_prepared_transactions = 10,
# then restart the server).
#
#   PGURL=postgres://postgres@127.0.0.1:25432/logtap ./capture.sh
#
# Each protocol version gets its own slot, created just before its workload,
# so each file holds only the transactions written for it. The streamed
# transactions are decoded with logical_decoding_work_mem = 64kB (the
# minimum, set for the decoding session) so that a few hundred rows are
# enough to make the server stream them.
#
# It creates its own tables, publication and slots (names prefixed gold_),
# drops them at the end, and rewrites v1.hex, v1-binary.hex, v2-stream.hex and
# v3-twophase.hex. OIDs, XIDs, LSNs and timestamps differ on every run, so the
# tests in ../golden.rs must be updated together with the files.
# copydata.hex is written by capture_copydata.py (walsender CopyData frames).
set -euo pipefail
cd "$(dirname "$0")"
: "${PGURL:?set PGURL to a superuser connection string}"
PSQL=(psql "$PGURL" -X -q -v ON_ERROR_STOP=1)

"${PSQL[@]}" <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'gold_%';
DROP PUBLICATION IF EXISTS gold_pub;
DROP SCHEMA IF EXISTS gold CASCADE;
DROP SCHEMA IF EXISTS "gold ü" CASCADE;
SELECT pg_replication_origin_drop('gold_origin') FROM pg_replication_origin WHERE roname = 'gold_origin';
CREATE SCHEMA gold;
CREATE SCHEMA "gold ü";
CREATE TYPE gold.mood AS ENUM ('sad', 'ok', 'happy');
-- generated and dropped columns are not sent: the tuples must still match.
CREATE TABLE gold.basic (
  id int PRIMARY KEY,
  name text,
  score numeric(10,2),
  m gold.mood,
  doomed int,
  g int GENERATED ALWAYS AS (id * 2) STORED,
  big text,
  tags varchar(20)[]
);
ALTER TABLE gold.basic DROP COLUMN doomed;
CREATE TABLE gold.full_ri (id int PRIMARY KEY, v text);
ALTER TABLE gold.full_ri REPLICA IDENTITY FULL;
CREATE TABLE gold.nothing_ri (id int, v text);
ALTER TABLE gold.nothing_ri REPLICA IDENTITY NOTHING;
CREATE TABLE gold.index_ri (a int NOT NULL, b int NOT NULL, c text, id serial);
CREATE UNIQUE INDEX index_ri_ab ON gold.index_ri (a, b);
ALTER TABLE gold.index_ri REPLICA IDENTITY USING INDEX index_ri_ab;
CREATE TABLE "gold ü"."Täble" (id bigint PRIMARY KEY, "ünïcode" varchar(20), ts timestamptz);
CREATE TABLE gold.stream (id int PRIMARY KEY, v text, m gold.mood);
CREATE PUBLICATION gold_pub FOR TABLE gold.basic, gold.full_ri, gold.nothing_ri,
  gold.index_ri, "gold ü"."Täble", gold.stream;
SELECT 'slot' FROM pg_create_logical_replication_slot('gold_v1', 'pgoutput');
SQL

# ---- v1: one transaction per statement group -------------------------------
# The harness runs with synchronous_commit = off, and the SQL decoding
# functions only read WAL that is flushed: without this, the last commits of a
# workload may be missing from a capture taken right after it.
"${PSQL[@]}" <<'SQL'
SET synchronous_commit = on;
INSERT INTO gold.basic (id, name, score, m, big, tags)
  VALUES (1, 'alice', 12.50, 'happy', NULL, '{a,"b c"}'), (2, NULL, NULL, NULL, NULL, NULL);
-- ~96 kB of hex digits: compresses to well over 2 kB, so it is stored out of line
INSERT INTO gold.basic (id, name, score, m, big)
  SELECT 3, 'toast', 1, 'ok', string_agg(md5(i::text), '') FROM generate_series(1, 150) i;
-- leaves the TOASTed column untouched: sent as 'u'
UPDATE gold.basic SET name = 'toast2' WHERE id = 3;
-- key change under REPLICA IDENTITY DEFAULT: old key sent with 'K'
UPDATE gold.basic SET id = 10 WHERE id = 1;
DELETE FROM gold.basic WHERE id = 2;
INSERT INTO gold.full_ri VALUES (1, 'a'), (2, NULL);
UPDATE gold.full_ri SET v = 'b' WHERE id = 1;
DELETE FROM gold.full_ri WHERE id = 2;
INSERT INTO gold.nothing_ri VALUES (1, 'n');
INSERT INTO gold.index_ri (a, b, c) VALUES (1, 2, 'x');
UPDATE gold.index_ri SET a = 5, c = 'y' WHERE a = 1;
DELETE FROM gold.index_ri WHERE a = 5;
INSERT INTO "gold ü"."Täble" VALUES (1, 'grüße', '2024-02-29 12:34:56.789+00');
BEGIN;
INSERT INTO gold.full_ri VALUES (3, 'with message');
SELECT pg_logical_emit_message(true, 'p', 'x');
COMMIT;
SELECT pg_logical_emit_message(false, 'nontx', '\x00ff01'::bytea);
TRUNCATE gold.full_ri;
TRUNCATE gold.nothing_ri, gold.index_ri RESTART IDENTITY CASCADE;
BEGIN; INSERT INTO gold.full_ri VALUES (99, 'rolled back'); ROLLBACK;
SELECT pg_replication_origin_create('gold_origin');
SELECT pg_replication_origin_session_setup('gold_origin');
BEGIN;
SELECT pg_replication_origin_xact_setup('0/12345678', '2024-01-02 03:04:05+00');
INSERT INTO gold.full_ri VALUES (4, 'from origin');
COMMIT;
SELECT pg_replication_origin_session_reset();
SQL

# Long runs of Insert messages ('I' = hex 49) inside the streamed transactions
# are trimmed to their first and last 3 lines, so the files stay small; the
# kept lines are unmodified server bytes and stay in order.
trim_runs() {
  awk '
    function flush(   i) {
      if (n > 8) {
        for (i = 1; i <= 3; i++) print run[i]
        print "# ... " (n - 6) " more Insert messages of this run elided by capture.sh"
        for (i = n - 2; i <= n; i++) print run[i]
      } else for (i = 1; i <= n; i++) print run[i]
      n = 0
    }
    /^49/ { run[++n] = $0; next }
    { flush(); print }
    END { flush() }'
}

dump() { # slot, options...
  local slot=$1; shift
  local opts=""
  while [ $# -gt 0 ]; do opts+=", '$1', '$2'"; shift 2; done
  "${PSQL[@]}" -At -c "SET logical_decoding_work_mem = '64kB'" \
    -c "SELECT encode(data, 'hex') FROM pg_logical_slot_peek_binary_changes('$slot', NULL, NULL$opts)" | trim_runs
}

header() {
  echo "# Captured from $("${PSQL[@]}" -At -c 'SELECT version()' | cut -d' ' -f1-2) by capture.sh on $(date -u +%Y-%m-%d)"
  echo "# $1"
  echo "# One pgoutput message per line, hex, in slot order."
}

{
  header "pg_logical_slot_peek_binary_changes('gold_v1', NULL, NULL, 'proto_version', '1', 'publication_names', 'gold_pub', 'messages', 'true')"
  dump gold_v1 proto_version 1 publication_names gold_pub messages true
} >v1.hex
{
  header "same WAL as v1.hex, with 'binary', 'true' (columns whose type has a send function come as 'b')"
  dump gold_v1 proto_version 1 publication_names gold_pub messages true binary true
} >v1-binary.hex

# ---- v2: streaming of in-progress transactions -----------------------------
"${PSQL[@]}" -c "SELECT 'slot' FROM pg_create_logical_replication_slot('gold_v2', 'pgoutput')" >/dev/null
"${PSQL[@]}" <<'SQL'
SET synchronous_commit = on;
-- streamed, then committed: Stream Start/Stop blocks, then Stream Commit
BEGIN;
INSERT INTO gold.stream SELECT i, 'r' || i, 'ok' FROM generate_series(1, 1000) i;
SELECT pg_logical_emit_message(true, 'wm', 'in stream');
UPDATE gold.stream SET v = 'updated' WHERE id <= 2;
DELETE FROM gold.stream WHERE id = 3;
TRUNCATE gold.full_ri;
COMMIT;
-- streamed, then rolled back: Stream Abort with xid = subxid
BEGIN;
INSERT INTO gold.stream SELECT i, 'gone' || i FROM generate_series(10001, 11000) i;
ROLLBACK;
-- a streamed subtransaction rolled back: Stream Abort with subxid != xid
BEGIN;
INSERT INTO gold.stream SELECT i, 's' || i FROM generate_series(20001, 20500) i;
SAVEPOINT sp;
INSERT INTO gold.stream SELECT i, 'sub' || i FROM generate_series(30001, 31000) i;
ROLLBACK TO SAVEPOINT sp;
INSERT INTO gold.stream VALUES (4000, 'after rollback to savepoint');
COMMIT;
SQL
{
  header "pg_logical_slot_peek_binary_changes('gold_v2', NULL, NULL, 'proto_version', '2', 'publication_names', 'gold_pub', 'messages', 'true', 'streaming', 'on') with logical_decoding_work_mem = 64kB"
  dump gold_v2 proto_version 2 publication_names gold_pub messages true streaming on
} >v2-stream.hex

# ---- v3: two-phase commit ---------------------------------------------------
"${PSQL[@]}" -c "SELECT 'slot' FROM pg_create_logical_replication_slot('gold_v3', 'pgoutput', false, true)" >/dev/null
"${PSQL[@]}" <<'SQL'
SET synchronous_commit = on;
BEGIN;
INSERT INTO gold.full_ri VALUES (10, 'prepared');
PREPARE TRANSACTION 'gold_gid_1';
COMMIT PREPARED 'gold_gid_1';
BEGIN;
INSERT INTO gold.full_ri VALUES (11, 'prepared, rolled back');
PREPARE TRANSACTION 'gold_gid_2';
ROLLBACK PREPARED 'gold_gid_2';
-- big enough to be streamed: Stream Prepare instead of Begin Prepare/Prepare
BEGIN;
INSERT INTO gold.stream SELECT i, 'p' || i FROM generate_series(50001, 51000) i;
PREPARE TRANSACTION 'gold_gid_3';
COMMIT PREPARED 'gold_gid_3';
SQL
{
  header "pg_logical_slot_peek_binary_changes('gold_v3', NULL, NULL, 'proto_version', '3', 'publication_names', 'gold_pub', 'messages', 'true', 'streaming', 'on', 'two_phase', 'on') on a slot created with two_phase => true, logical_decoding_work_mem = 64kB"
  dump gold_v3 proto_version 3 publication_names gold_pub messages true streaming on two_phase on
} >v3-twophase.hex

if [ "${GOLD_KEEP:-}" != 1 ]; then
  "${PSQL[@]}" <<'SQL'
SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE 'gold_%';
DROP PUBLICATION gold_pub;
DROP SCHEMA gold CASCADE;
DROP SCHEMA "gold ü" CASCADE;
SELECT pg_replication_origin_drop('gold_origin');
SQL
fi
