#!/usr/bin/env bash
# Produce encrypted.txt: the first events of a REAL encrypted MariaDB binlog,
# up to and including its START_ENCRYPTION_EVENT (type 164).
#
#   crates/logtap-binlog/tests/golden/mariadb/capture-encrypted.sh
#
# Starts a throwaway mariadbd (Debian's mariadb-server, its
# file_key_management plugin, a fixed test key) in a temporary directory on
# port ${PORT:-58399}, writes one transaction, rotates, extracts, and stops
# and removes the server again. Needs root (mariadbd runs as `mysql`).
#
# Everything after START_ENCRYPTION_EVENT in the file is ciphertext: a
# replication client never sees it, because the server's dump thread
# decrypts and forwards START_ENCRYPTION_EVENT flagged
# LOG_EVENT_IGNORABLE_F. A reader of the FILES would have to decrypt; logtap
# does not.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PORT=${PORT:-58399}
DIR=$(mktemp -d /tmp/logtap-mdb-enc.XXXXXX)
chmod 755 "$DIR"
SOCK=$DIR/mariadbd.sock
PID=

cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID"
    for _ in $(seq 1 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -rf "$DIR"
}
trap cleanup EXIT

# A fixed, public, test-only key: id 1, 256 bits.
echo "1;$(printf '0%.0s' $(seq 1 64))" >"$DIR/keys.txt"
chown -R mysql:mysql "$DIR"

mariadb-install-db --no-defaults --user=mysql --datadir="$DIR/data" \
  --auth-root-authentication-method=socket >"$DIR/install.log" 2>&1

mariadbd --no-defaults --user=mysql --datadir="$DIR/data" --socket="$SOCK" \
  --port="$PORT" --bind-address=127.0.0.1 --pid-file="$DIR/mariadbd.pid" \
  --log-error="$DIR/mariadb.err" --server-id=1 --log-bin="$DIR/data/binlog" \
  --binlog-format=ROW --binlog-row-metadata=FULL \
  --plugin-load-add=file_key_management \
  --file-key-management-filename="$DIR/keys.txt" \
  --encrypt-binlog=ON </dev/null >"$DIR/mariadbd.out" 2>&1 &
PID=$!

M=(mariadb --no-defaults -uroot -S "$SOCK" -N -B)
for _ in $(seq 1 100); do "${M[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break; sleep 0.2; done
"${M[@]}" -e 'SELECT 1' >/dev/null

"${M[@]}" -e "
CREATE DATABASE enc; USE enc;
CREATE TABLE t (id INT PRIMARY KEY) ENGINE=InnoDB;
INSERT INTO t VALUES (1);
FLUSH BINARY LOGS;"
first=$("${M[@]}" -e 'SHOW BINARY LOGS' | head -1 | cut -f1)
version=$("${M[@]}" -e 'SELECT VERSION()')

{
  echo "# MariaDB encrypted binlog (encrypt_binlog=ON, file_key_management), produced"
  echo "# by capture-encrypted.sh + extract.py --stop-after-type 164"
  echo "# server: $version; binlog file: $first"
  python3 "$HERE/extract.py" --stop-after-type 164 "$DIR/data/$first"
} >"$HERE/encrypted.txt"
echo "wrote $HERE/encrypted.txt"
