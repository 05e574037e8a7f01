#!/usr/bin/env bash
# Produce the MariaDB golden binlog events in this directory from a REAL server.
#
#   scripts/services up && eval "$(scripts/services env)"
#   crates/logtap-binlog/tests/golden/mariadb/capture.sh
#
# (or a private instance: LOGTAP_SERVICES_DIR=/tmp/x LOGTAP_MYSQL_PORT=... for
# `up`, `env` and `down`, see scripts/services). Needs root (reads the
# server's data dir), python3 and mariadb-binlog. The server must be fresh
# enough that nothing else writes to its binlog while this runs.
#
# What it does: rotates the binlog, runs a fixed set of statements that make
# MariaDB write each of its own event types with interesting flags (DDL,
# transactional and non-transactional DML, a second gtid_domain_id and
# server_id, XA, two-phase ALTER, a group commit, UTF-8 statement text), then
# a file with binlog_checksum=NONE and one with log_bin_compress=ON, rotates
# again and dumps every event of the new files with extract.py into
# events.txt. mariadb-binlog's own reading of the same files goes to
# mariadb-binlog.txt: the tests use it as an independent oracle (GTIDs,
# GTID lists, checkpoint names, CRC32 values, annotate text).
#
# GTID seq_nos depend on what the server wrote before (the committed
# events.txt comes from the second run on a fresh harness server, so it
# starts at 0-1-17); the tests pin the values of that capture.
#
# START_ENCRYPTION_EVENT needs a server started with an encryption plugin; see
# capture-encrypted.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SOCK=${LOGTAP_MYSQL_SOCKET:?run: eval \"\$(scripts/services env)\"}
M=(mariadb --no-defaults -uroot -S "$SOCK" -N -B)

sql() { "${M[@]}" -e "$1"; }

basename=$(sql 'SELECT @@log_bin_basename')

sql 'FLUSH BINARY LOGS'
first=$(sql 'SHOW MASTER STATUS' | cut -f1)

sql "
SET SESSION binlog_annotate_row_events = ON;
CREATE DATABASE IF NOT EXISTS golden;
USE golden;
DROP TABLE IF EXISTS t, m, n, c;
CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB;
INSERT INTO t VALUES (1, 'one'), (2, 'two');
BEGIN; UPDATE t SET v = 'uno' WHERE id = 1; DELETE FROM t WHERE id = 2; COMMIT;
CREATE TABLE m (id INT PRIMARY KEY) ENGINE=MyISAM;
INSERT INTO m VALUES (1);
"
# A second replication domain and an originating server_id other than the
# server's own: GTID 1-2-N, server_id taken from the event header.
sql "
USE golden;
SET SESSION gtid_domain_id = 1; SET SESSION server_id = 2;
INSERT INTO t VALUES (3, 'drei');
"
# XA: XA PREPARE writes a GTID with FL_PREPARED_XA and the XID (10.11 also
# sets flags_extra MULTI_ENGINE, extra_engines=255), XA COMMIT a second,
# standalone one with FL_COMPLETED_XA.
sql "
USE golden;
XA START 'gtrid-1', 'bq', 7;
INSERT INTO t VALUES (4, 'xa');
XA END 'gtrid-1', 'bq', 7;
XA PREPARE 'gtrid-1', 'bq', 7;
XA COMMIT 'gtrid-1', 'bq', 7;
"
# Two-phase ALTER: START ALTER and COMMIT ALTER GTIDs (flags_extra, sa_seq_no).
sql "
USE golden;
SET SESSION binlog_alter_two_phase = ON;
ALTER TABLE t ADD COLUMN w INT;
"
sql "
USE golden;
INSERT INTO t VALUES (5, 'grüße ✓', NULL);
"
# One transaction over two engines (InnoDB and MyISAM). 10.11 binlogs the
# MyISAM statement as its own group first (no FL_TRANSACTIONAL, ends with a
# COMMIT query), then the InnoDB part; no flags_extra MULTI_ENGINE here.
sql "
USE golden;
BEGIN; INSERT INTO t VALUES (10, 'two engines', NULL); INSERT INTO m VALUES (2); COMMIT;
"
# Group commit: make the leader wait for a second committer so both share a
# commit_id (FL_GROUP_COMMIT_ID).
sql 'SET GLOBAL binlog_commit_wait_count = 2, GLOBAL binlog_commit_wait_usec = 5000000'
sql "USE golden; INSERT INTO t VALUES (6, 'group a', NULL)" & a=$!
sql "USE golden; INSERT INTO t VALUES (7, 'group b', NULL)" & b=$!
wait "$a"; wait "$b"
sql 'SET GLOBAL binlog_commit_wait_count = 0, GLOBAL binlog_commit_wait_usec = 100000'

sql 'FLUSH BINARY LOGS'
# A file without checksums (changing binlog_checksum rotates the binlog).
sql 'SET GLOBAL binlog_checksum = NONE'
sql "USE golden; INSERT INTO t VALUES (8, 'no crc', 1); CREATE TABLE n (id INT PRIMARY KEY)"
sql 'SET GLOBAL binlog_checksum = CRC32'
# Compressed events (QUERY_COMPRESSED, *_ROWS_COMPRESSED): recognised, not decoded.
sql 'SET GLOBAL log_bin_compress = ON, GLOBAL log_bin_compress_min_len = 10'
sql "USE golden; INSERT INTO t VALUES (9, REPEAT('z', 60), 2); CREATE TABLE c (id INT PRIMARY KEY, long_column_name_for_compression INT)"
sql 'SET GLOBAL log_bin_compress = OFF, GLOBAL log_bin_compress_min_len = 256'
sql 'FLUSH BINARY LOGS'
last=$(sql 'SHOW MASTER STATUS' | cut -f1)

files=()
for f in $(sql 'SHOW BINARY LOGS' | cut -f1); do
  if [[ "$f" > "$first" || "$f" == "$first" ]] && [[ "$f" < "$last" ]]; then
    files+=("$(dirname "$basename")/$f")
  fi
done
[ "${#files[@]}" -gt 0 ] || { echo "no binlog files captured" >&2; exit 1; }

version=$(sql 'SELECT VERSION()')
{
  echo "# MariaDB golden binlog events, produced by capture.sh + extract.py"
  echo "# server: $version; binlog files: ${files[*]##*/}"
  echo "# format: E <file> <pos> <type> <crc32|none> <hex of header+body(+crc)>"
  python3 "$HERE/extract.py" "${files[@]}"
} >"$HERE/events.txt"
{
  echo "# mariadb-binlog --base64-output=decode-rows -vv of the files in events.txt"
  for f in "${files[@]}"; do
    echo "### FILE ${f##*/}"
    mariadb-binlog --base64-output=decode-rows -vv "$f"
  done
} >"$HERE/mariadb-binlog.txt"
echo "wrote $HERE/events.txt ($(grep -c '^E ' "$HERE/events.txt") events from ${#files[@]} files)"
