# shellcheck shell=bash disable=SC2034 # sourced by scripts/services, which uses these variables
# MariaDB (Debian's) for scripts/services.

# ---- MariaDB ---------------------------------------------------------------
# Two instances: the primary, and (unless LOGTAP_MYSQL_REPLICA=0) a replica
# on the primary's port + 5 (never another checkout's port) replicating from it by GTID with
# log_slave_updates and read_only, so a source can read a replica's own
# binlog (tests/mysql_snapshot.rs). mariadb_use selects which one the
# MDB_* variables describe.
MDB_PRIMARY_PORT=${LOGTAP_MYSQL_PORT:-$((23306 + PORT_OFFSET))}
MDB_REPLICA_PORT=$((MDB_PRIMARY_PORT + 5))
MDB_REPLICA=${LOGTAP_MYSQL_REPLICA:-1}
MDB_ROOT_PASSWORD=root      # root over TCP (127.0.0.1); socket root has none

mariadb_use() { # primary | replica
  if [ "$1" = replica ]; then
    MDB_PORT=$MDB_REPLICA_PORT MDB_DIR=$STATE/mariadb-replica MDB_SERVER_ID=2 MDB_READ_ONLY=ON
  else
    MDB_PORT=$MDB_PRIMARY_PORT MDB_DIR=$STATE/mariadb MDB_SERVER_ID=1 MDB_READ_ONLY=OFF
  fi
  MDB_DATA=$MDB_DIR/data
  MDB_RUN=$MDB_DIR/run
  MDB_SOCK=$MDB_RUN/mariadbd.sock
  MDB_PID=$MDB_RUN/mariadbd.pid
  MDB_LOG=$MDB_DIR/mariadb.err
  MDB_CNF=$MDB_DIR/my.cnf
}
mariadb_use primary

mariadbd_bin() {
  command -v mariadbd 2>/dev/null || { [ -x /usr/sbin/mariadbd ] && echo /usr/sbin/mariadbd; }
}

# ============================================================================
# MariaDB
# ============================================================================

mariadb_running() {
  local pid
  pid=$(read_pid "$MDB_PID")
  [ -n "$pid" ] && pid_is "$pid" mariadbd
}

mariadb_client() { # root over the unix socket (no password), see my.cnf [client]
  mariadb --defaults-file="$MDB_CNF" "$@"
}

mariadb_write_config() {
  # One file for server and our client calls. --defaults-file makes both
  # ignore /etc/mysql (Debian's config sets log paths, bind address, etc.).
  cat >"$MDB_CNF" <<EOF
# written by scripts/services; edits are overwritten on the next start
[client]
socket = $MDB_SOCK
port = $MDB_PORT
user = root

[mariadbd]
user = mysql
datadir = $MDB_DATA
socket = $MDB_SOCK
pid-file = $MDB_PID
log-error = $MDB_LOG
port = $MDB_PORT
bind-address = 127.0.0.1
skip-name-resolve
# binlog as a CDC reader needs it
log-bin = $MDB_DATA/binlog
binlog-format = ROW
binlog-row-image = FULL
binlog-row-metadata = FULL
server-id = $MDB_SERVER_ID
read-only = $MDB_READ_ONLY
gtid-strict-mode = ON
log-slave-updates
# without /etc/mysql the compiled-in default would be latin1
character-set-server = utf8mb4
collation-server = utf8mb4_general_ci
max-connections = 200
# test data is disposable: trade durability for speed
innodb-flush-log-at-trx-commit = 2
innodb-doublewrite = 0
sync-binlog = 0
# TLS offered (make_tls_files: a certificate for 127.0.0.1 and localhost
# signed by tls/ca.crt); each client chooses, as with PostgreSQL.
ssl-ca = $MDB_DIR/tls/ca.crt
ssl-cert = $MDB_DIR/tls/server.crt
ssl-key = $MDB_DIR/tls/server.key
EOF
}

mariadb_init() {
  [ -d "$MDB_DATA/mysql" ] && return 0
  say "mariadb-install-db"
  rm -rf "$MDB_DATA" # leftovers of an interrupted install
  # --no-defaults: no /etc/mysql and not our my.cnf either, so the system
  # tables are created without binary logging (the binlog starts clean).
  mariadb-install-db --no-defaults --user=mysql --datadir="$MDB_DATA" \
    --auth-root-authentication-method=normal --skip-test-db \
    >"$MDB_DIR/install-db.log" 2>&1 ||
    fail_with_log "mariadb-install-db failed" "$MDB_DIR/install-db.log"
}

mariadb_bootstrap() {
  # Idempotent, and kept out of the binlog (sql_log_bin=0) so tests reading
  # the binlog see only their own events. Anonymous users must go: with
  # them, a TCP login as a new user can match ''@host and be refused.
  local drops
  drops=$(mariadb_client -N -B -e \
    "SELECT CONCAT('DROP USER ', QUOTE(User), '@', QUOTE(Host), ';') FROM mysql.user WHERE User = ''")
  mariadb_client <<SQL
SET SESSION sql_log_bin = 0;
$drops
$(my_users_sql "$MDB_ROOT_PASSWORD")
SQL
}

mariadb_up() {
  mariadb_use primary
  mariadb_up_one
  if [ "$MDB_REPLICA" = 1 ]; then
    mariadb_use replica
    mariadb_up_one
    mariadb_replicate
  fi
  mariadb_use primary
}

# Points the replica (selected) at the primary from the primary's current
# GTID position, unless it already replicates.
mariadb_replicate() {
  local SVC=mariadb-replica running pos
  running=$(mariadb_client -N -B -e "SHOW SLAVE STATUS" | cut -f11,12)
  if [ "$running" = "$(printf 'Yes\tYes')" ]; then
    say "replicating from 127.0.0.1:$MDB_PRIMARY_PORT"
    return 0
  fi
  pos=$(mariadb --defaults-file="$STATE/mariadb/my.cnf" -N -B -e "SELECT @@gtid_binlog_pos")
  mariadb_client <<SQL || fail_with_log "setting up replication failed" "$MDB_LOG"
STOP SLAVE;
RESET SLAVE ALL;
SET GLOBAL gtid_slave_pos = '$pos';
CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $MDB_PRIMARY_PORT,
  MASTER_USER = 'root', MASTER_PASSWORD = '$MDB_ROOT_PASSWORD', MASTER_USE_GTID = slave_pos;
START SLAVE;
SQL
  say "replicating from 127.0.0.1:$MDB_PRIMARY_PORT from GTID $pos"
}

mariadb_up_one() {
  local SVC=mariadb t0 mariadbd pid i
  [ "$MDB_SERVER_ID" = 1 ] || SVC=mariadb-replica
  t0=$(now_us)
  mariadbd=$(mariadbd_bin) || die "mariadbd not found"
  id mysql >/dev/null 2>&1 || die "OS user mysql missing (mariadb-server not installed?)"
  check_socket_path "$MDB_SOCK"
  mkdir -p "$MDB_RUN"
  chown mysql:mysql "$MDB_DIR" "$MDB_RUN"
  check_reachable_by mysql "$MDB_DIR"
  mariadb_init

  if mariadb_running; then
    say "already running (pid $(read_pid "$MDB_PID"))"
  else
    if port_open "$MDB_PORT"; then
      die "port $MDB_PORT is in use by another process"
    fi
    make_tls_files "$MDB_DIR/tls" mysql "$MDB_DIR"
    mariadb_write_config
    log_marker "$MDB_LOG" "$MDB_DIR/mariadbd.out"
    rm -f "$MDB_PID"
    # setsid: own session (see pg_up); all fds away from our stdout so a
    # caller piping our output (`up | tee`) does not wait for the daemon.
    setsid "$mariadbd" --defaults-file="$MDB_CNF" </dev/null >>"$MDB_DIR/mariadbd.out" 2>&1 &
    pid=$!
    for ((i = 0; ; i++)); do
      mariadb-admin --defaults-file="$MDB_CNF" --connect-timeout=2 ping >/dev/null 2>&1 && break
      pid_alive "$pid" ||
        fail_with_log "mariadbd exited during startup" "$MDB_LOG" "$MDB_DIR/mariadbd.out"
      ((i < START_TIMEOUT * 5)) ||
        fail_with_log "mariadbd not ready after ${START_TIMEOUT}s" "$MDB_LOG" "$MDB_DIR/mariadbd.out"
      sleep 0.2
    done
  fi
  mariadb_bootstrap || fail_with_log "creating users/database failed" "$MDB_LOG"
  mariadb --no-defaults -h 127.0.0.1 -P "$MDB_PORT" -u cdc -pcdc logtap -N -e 'select 1' >/dev/null ||
    fail_with_log "login as cdc over TCP failed" "$MDB_LOG"
  say "ready on 127.0.0.1:$MDB_PORT in $(elapsed "$t0")"
}

mariadb_down() {
  mariadb_use replica
  [ ! -f "$MDB_PID" ] || mariadb_down_one
  mariadb_use primary
  mariadb_down_one
}

mariadb_down_one() {
  local SVC=mariadb pid
  [ "$MDB_SERVER_ID" = 1 ] || SVC=mariadb-replica
  pid=$(read_pid "$MDB_PID")
  if [ -n "$pid" ] && pid_is "$pid" mariadbd; then
    stop_pid "$pid" mariadbd
    rm -f "$MDB_PID"
    say "stopped"
  else
    say "not running"
  fi
}

mariadb_status() {
  local rc=0
  mariadb_use primary
  mariadb_status_one || rc=1
  if [ "$MDB_REPLICA" = 1 ]; then
    mariadb_use replica
    mariadb_status_one || rc=1
    mariadb_use primary
  fi
  return $rc
}

mariadb_status_one() {
  local SVC=mariadb
  [ "$MDB_SERVER_ID" = 1 ] || SVC=mariadb-replica
  if mariadb_running; then
    say "running (pid $(read_pid "$MDB_PID")), 127.0.0.1:$MDB_PORT $(mariadb-admin --defaults-file="$MDB_CNF" --connect-timeout=2 ping 2>&1 | head -n 1)"
  else
    say "stopped"
    return 1
  fi
}


# `export` lines for the tests (scripts/services env).
mariadb_env() {
  cat <<EOF
export LOGTAP_MYSQL_URL='mysql://cdc:cdc@127.0.0.1:$MDB_PORT/logtap'
export LOGTAP_MYSQL_HOST='127.0.0.1'
export LOGTAP_MYSQL_PORT='$MDB_PORT'
export LOGTAP_MYSQL_USER='cdc'
export LOGTAP_MYSQL_PASSWORD='cdc'
export LOGTAP_MYSQL_DB='logtap'
export LOGTAP_MYSQL_ROOT_URL='mysql://root:$MDB_ROOT_PASSWORD@127.0.0.1:$MDB_PORT'
export LOGTAP_MYSQL_SOCKET='$MDB_SOCK'
export LOGTAP_MYSQL_SSL_CA='$MDB_DIR/tls/ca.crt'
EOF
  if [ "$MDB_REPLICA" = 1 ]; then
    cat <<EOF
export LOGTAP_MYSQL_REPLICA_PORT='$MDB_REPLICA_PORT'
EOF
  fi
}

# The log files `scripts/services logs` shows.
mariadb_logs() {
  printf '%s\n' "$MDB_LOG" "$MDB_DIR/mariadbd.out" "$STATE/mariadb-replica/mariadb.err"
}
