# shellcheck shell=bash disable=SC2034 # sourced by scripts/services, which uses these variables
# MySQL 9.7 (Debian sid's, unpacked) for scripts/services.

# ---- MySQL (9.7, Debian sid) -------------------------------------------------
# Only when asked for (LOGTAP_MYSQL97=1 for up, status and down):
# scripts/test asks, for its MySQL pass; the demo does not need it (and so
# does not fetch ~60 MB from sid).
WITH_MYSQL97=${LOGTAP_MYSQL97:-0}
MY_VERSION=9.7              # the mysql-server-core version sid must offer (9.7.*)
MY_PORT=${LOGTAP_MYSQL97_PORT:-$((23307 + PORT_OFFSET))}
MY_ROOT=$REPO/target/mysql-root-$MY_VERSION    # unpacked packages, see mysql_fetch_root
MY_DEBS=$REPO/target/mysql-debs-$MY_VERSION    # debs/ (the .debs), apt/ (private apt)
MY_LIBDIR=$MY_ROOT/usr/lib/x86_64-linux-gnu
MY_LOADER=$MY_LIBDIR/ld-linux-x86-64.so.2      # sid's ld.so, runs sid's binaries
MY_DIR=$STATE/mysql
MY_DATA=$MY_DIR/data
MY_RUN=$MY_DIR/run
MY_SOCK=$MY_RUN/mysqld.sock
MY_PID=$MY_RUN/mysqld.pid
MY_LOG=$MY_DIR/mysqld.err
MY_ROOT_PASSWORD=root       # root over TCP (127.0.0.1); socket root has none

# ============================================================================
# MySQL 9.7 (Debian sid packages unpacked into MY_ROOT, run through sid's
# own dynamic loader)
# ============================================================================
#
# Debian 12 has no MySQL, and sid's mysql-server-core 9.7 needs sid's glibc,
# so it cannot be installed on this system. Instead mysql-server-core and
# mysql-client-core with their whole dependency closure (libc6 included;
# about 60 .debs, 65 MB, 410 MB unpacked) are downloaded from sid by an apt
# of our own (own sources list, package lists, cache and an empty dpkg
# status, so that every dependency is fetched; the system's apt sources,
# lists and dpkg database are neither read nor changed) and unpacked with
# dpkg-deb -x into MY_ROOT. Every binary then runs as
#   $MY_LOADER --library-path $MY_LIBDIR $MY_ROOT/usr/sbin/mysqld ...
# so that it gets sid's libc and libraries, never the system's. The pid in
# run/mysqld.pid is that process (the loader maps mysqld into itself, no
# fork); its command line holds --datadir=<our data dir>.

# Runs a program of the root (path relative to it) through the root's loader.
mysql_exec() {
  local prog=$1
  shift
  "$MY_LOADER" --library-path "$MY_LIBDIR" "$MY_ROOT/$prog" "$@"
}

# apt-get / apt-cache with the private configuration (see mysql_apt_config).
mysql_apt() {
  local tool=$1
  shift
  APT_CONFIG=$MY_DEBS/apt/etc/apt.conf "$tool" "$@"
}

# APT_CONFIG is read before anything else: pointing Dir::Etc::parts and
# Dir::Etc::main away keeps the system's apt.conf.d out as well (its
# post-update hooks and appstream index targets). Only a proxy the system's
# apt may need is carried over.
mysql_apt_config() {
  local apt=$MY_DEBS/apt k v
  mkdir -p "$apt/etc/empty.d" "$apt/state" "$apt/lists/partial" "$apt/cache/archives/partial"
  : >"$apt/status" # empty dpkg database: nothing counts as installed
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian sid main" \
    >"$apt/etc/sources.list"
  {
    cat <<EOF
// written by scripts/services: apt for fetching MySQL from Debian sid only
Dir::Etc::main "/dev/null";
Dir::Etc::parts "$apt/etc/empty.d";
Dir::Etc::sourcelist "$apt/etc/sources.list";
Dir::Etc::sourceparts "$apt/etc/empty.d";
Dir::Etc::preferences "/dev/null";
Dir::Etc::preferencesparts "$apt/etc/empty.d";
Dir::State "$apt/state";
Dir::State::Lists "$apt/lists";
Dir::State::status "$apt/status";
Dir::Cache "$apt/cache";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
// The clock of the machines this runs on and the Release files their mirror
// serves need not agree (sid's is valid for a week; the system's apt.conf.d
// turns these checks off too). Signatures are still checked.
Acquire::Check-Valid-Until "false";
Acquire::Check-Date "false";
EOF
    for k in Acquire::http::Proxy Acquire::https::Proxy; do
      v=
      eval "$(apt-config shell v "$k" 2>/dev/null)" || true
      [ -z "$v" ] || printf '%s "%s";\n' "$k" "$v"
    done
  } >"$apt/etc/apt.conf"
}

# The .debs, once: MY_DEBS/debs/ with a .complete marker (kept when the root
# or the state dir is wiped, so that a new root needs no network).
mysql_fetch_debs() {
  [ -f "$MY_DEBS/debs/.complete" ] && return 0
  local t0 log=$MY_DEBS/fetch.log v tmp=$MY_DEBS/debs.tmp.$$
  t0=$(now_us)
  say "fetching mysql-server-core and mysql-client-core $MY_VERSION and their dependencies from Debian sid"
  mkdir -p "$MY_DEBS"
  mysql_apt_config
  : >"$log"
  mysql_apt apt-get -q update >>"$log" 2>&1 || fail_with_log "apt-get update (sid, private lists) failed" "$log"
  v=$(mysql_apt apt-cache show --no-all-versions mysql-server-core 2>>"$log" | sed -n 's/^Version: //p')
  case $v in
    "$MY_VERSION".*) ;;
    *) fail_with_log "Debian sid offers mysql-server-core '${v:-(none)}', not $MY_VERSION.*; update MY_VERSION in $0" "$log" ;;
  esac
  # Only this closure in the cache: everything there gets unpacked.
  rm -f "$MY_DEBS/apt/cache/archives/"*.deb
  mysql_apt apt-get -q -y install --download-only "mysql-server-core=$v" mysql-client-core \
    >>"$log" 2>&1 || fail_with_log "apt-get install --download-only (sid) failed" "$log"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  mv "$MY_DEBS/apt/cache/archives/"*.deb "$tmp/"
  [ -n "$(ls "$tmp"/mysql-server-core_*.deb 2>/dev/null)" ] ||
    fail_with_log "mysql-server-core_*.deb missing after apt-get" "$log"
  touch "$tmp/.complete"
  rm -rf "$MY_DEBS/debs"
  mv "$tmp" "$MY_DEBS/debs"
  # The lists and apt's binary caches (~150 MB) serve no further purpose: a
  # new fetch (only if debs/ goes) starts with apt-get update anyway.
  rm -rf "$MY_DEBS/apt/lists" "$MY_DEBS/apt/cache"
  say "$(ls "$MY_DEBS/debs" | wc -l) packages ($(du -sh "$MY_DEBS/debs" | cut -f 1)) in $MY_DEBS/debs ($(elapsed "$t0"))"
}

# Wrappers in <root>/bin for the client tools: each runs the tool through the
# root's loader, with --no-defaults unless the first argument names an
# option file (/etc/mysql belongs to the system's MariaDB, and MySQL's tools
# stop at options they do not know) and with the root's plugin dir (the
# compiled-in /usr/lib/mysql/plugin is MariaDB's). They find the root from
# their own path, so the root can be renamed.
mysql_write_wrappers() {
  local root=$1 tool f
  mkdir -p "$root/bin"
  for tool in mysql mysqladmin mysqlbinlog mysqldump; do
    f=$root/bin/$tool
    cat >"$f.tmp.$$" <<EOF
#!/bin/sh
# written by scripts/services: runs MySQL's $tool from the Debian sid packages
# unpacked in this directory's parent, through their own dynamic loader
# (they need sid's glibc). Without an option file as the first argument,
# --no-defaults (the system's /etc/mysql is MariaDB's). E.g.
#   $tool -h 127.0.0.1 -P \$LOGTAP_MYSQL97_PORT -u cdc -pcdc ...
#   $tool -S \$LOGTAP_MYSQL97_SOCKET -u root ...
root=\$(cd "\$(dirname "\$(readlink -f "\$0")")/.." && pwd)
case \${1-} in
  --defaults-file=* | --defaults-extra-file=* | --no-defaults | --print-defaults) first=\$1; shift ;;
  *) first=--no-defaults ;;
esac
exec "\$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" \\
  --library-path "\$root/usr/lib/x86_64-linux-gnu" \\
  "\$root/usr/bin/$tool" "\$first" --plugin-dir="\$root/usr/lib/mysql/plugin" "\$@"
EOF
    chmod 0755 "$f.tmp.$$"
    if [ -f "$f" ] && cmp -s "$f.tmp.$$" "$f"; then rm -f "$f.tmp.$$"; else mv "$f.tmp.$$" "$f"; fi
  done
}

# MY_ROOT, once (.complete marker; built in a temp dir and renamed, like the
# Kafka jars). The root is shared by every state dir of this checkout: a lock
# next to it serialises two `up`s that both need it.
mysql_fetch_root() {
  [ -f "$MY_ROOT/.complete" ] && return 0
  mkdir -p "$(dirname "$MY_ROOT")"
  (
    exec 8>"$MY_ROOT.lock"
    flock -w 1800 8 || die "another scripts/services call holds $MY_ROOT.lock"
    [ -f "$MY_ROOT/.complete" ] && exit 0
    command -v dpkg-deb >/dev/null || die "dpkg-deb not found"
    mysql_fetch_debs
    local t0 tmp=$MY_ROOT.tmp.$$ log=$MY_DEBS/unpack.log deb n=0
    t0=$(now_us)
    rm -rf "$tmp"
    mkdir -p "$tmp"
    : >"$log"
    for deb in "$MY_DEBS/debs/"*.deb; do
      dpkg-deb -x "$deb" "$tmp" >>"$log" 2>&1 || fail_with_log "dpkg-deb -x $deb failed" "$log"
      n=$((n + 1))
    done
    mysql_write_wrappers "$tmp"
    # It must run from here, and be the version we meant.
    "$tmp/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$tmp/usr/lib/x86_64-linux-gnu" \
      "$tmp/usr/sbin/mysqld" --no-defaults --version >>"$log" 2>&1 ||
      fail_with_log "the unpacked mysqld does not run" "$log"
    grep -q "Ver $MY_VERSION\." "$log" || fail_with_log "the unpacked mysqld is not $MY_VERSION" "$log"
    touch "$tmp/.complete"
    rm -rf "$MY_ROOT"
    mv "$tmp" "$MY_ROOT"
    say "unpacked $n packages into $MY_ROOT ($(elapsed "$t0"))"
  )
}

mysql_running() {
  local pid
  pid=$(read_pid "$MY_PID")
  # The trailing blank: not data.tmp (a running --initialize).
  [ -n "$pid" ] && pid_is "$pid" "--datadir=$MY_DATA "
}

mysql_client() { # root over the unix socket (no password)
  "$MY_ROOT/bin/mysql" -S "$MY_SOCK" -u root "$@"
}

mysql_ping() {
  "$MY_ROOT/bin/mysqladmin" -S "$MY_SOCK" -u root --connect-timeout=2 ping
}

# --no-defaults first (mysqld insists): no /etc/mysql (MariaDB's), no
# ~/.my.cnf. The message and plugin dirs are named because the compiled-in
# ones are /usr/share/mysql and /usr/lib/mysql/plugin, the system's (the
# latter is MariaDB's plugin dir).
mysql_common_args() {
  MY_ARGS=(--no-defaults --basedir="$MY_ROOT/usr"
    --lc-messages-dir="$MY_ROOT/usr/share/mysql" --plugin-dir="$MY_ROOT/usr/lib/mysql/plugin"
    --user=root)
}

mysql_init() {
  [ -f "$MY_DATA/mysql.ibd" ] && return 0
  local tmp=$MY_DIR/data.tmp
  say "mysqld --initialize-insecure"
  # In a temp dir and renamed: an interrupted initialize leaves no data dir
  # that looks usable. No binlog options: the system tables are created
  # without binary logging (the binlog starts clean), root@localhost has no
  # password (socket only; root over TCP is made by mysql_bootstrap).
  rm -rf "$MY_DATA" "$tmp"
  mysql_common_args
  mysql_exec usr/sbin/mysqld "${MY_ARGS[@]}" --datadir="$tmp" --initialize-insecure \
    </dev/null >"$MY_DIR/init.err" 2>&1 ||
    fail_with_log "mysqld --initialize-insecure failed" "$MY_DIR/init.err"
  mv "$tmp" "$MY_DATA"
}

mysql_bootstrap() {
  # Idempotent, and kept out of the binlog (sql_log_bin=0) so tests reading
  # the binlog see only their own events. The same users and grants as
  # mariadb_bootstrap. MySQL 9 has no anonymous users to drop. Passwords use
  # the default plugin, caching_sha2_password: a client needs TLS (the server
  # offers it, with the certificate --initialize made) or the server's RSA
  # key (mysql --get-server-public-key) for the first login of a user.
  mysql_client <<SQL
SET SESSION sql_log_bin = 0;
$(my_users_sql "$MY_ROOT_PASSWORD")
SQL
}

mysql_up() {
  local SVC=mysql t0 pid i
  t0=$(now_us)
  [ "$(uname -m)" = x86_64 ] || die "only x86_64 is supported (the root is sid's amd64 packages)"
  check_socket_path "$MY_SOCK"
  mysql_fetch_root
  mysql_write_wrappers "$MY_ROOT" # a root from an older version of this script
  mkdir -p "$MY_RUN"
  mysql_init

  if mysql_running; then
    say "already running (pid $(read_pid "$MY_PID"))"
  else
    if port_open "$MY_PORT"; then
      die "port $MY_PORT is in use by another process"
    fi
    log_marker "$MY_LOG" "$MY_DIR/mysqld.out"
    rm -f "$MY_PID"
    mysql_common_args
    # binlog-format is deprecated in 9.x (a warning at start) but still
    # honoured; ROW is the default anyway, set here to say what we rely on.
    # The innodb/sync settings: test data is disposable, trade durability for
    # speed (as for MariaDB). mysqlx=OFF: no X Protocol listener on 33060.
    MY_ARGS+=(--datadir="$MY_DATA" --port="$MY_PORT" --bind-address=127.0.0.1
      --socket="$MY_SOCK" --pid-file="$MY_PID" --log-error="$MY_LOG"
      --mysqlx=OFF --skip-name-resolve --max-connections=200
      --server-id=1 --log-bin=binlog --binlog-format=ROW --binlog-row-image=FULL
      --binlog-row-metadata=FULL --gtid-mode=ON --enforce-gtid-consistency=ON
      --secure-file-priv=
      --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=OFF --sync-binlog=0)
    # setsid and fds: see mariadb_up.
    setsid "$MY_LOADER" --library-path "$MY_LIBDIR" "$MY_ROOT/usr/sbin/mysqld" "${MY_ARGS[@]}" \
      </dev/null >>"$MY_DIR/mysqld.out" 2>&1 &
    pid=$!
    for ((i = 0; ; i++)); do
      mysql_ping >/dev/null 2>&1 && break
      pid_alive "$pid" ||
        fail_with_log "mysqld exited during startup" "$MY_LOG" "$MY_DIR/mysqld.out"
      ((i < START_TIMEOUT * 5)) ||
        fail_with_log "mysqld not ready after ${START_TIMEOUT}s" "$MY_LOG" "$MY_DIR/mysqld.out"
      sleep 0.2
    done
  fi
  mysql_bootstrap || fail_with_log "creating users/database failed" "$MY_LOG"
  # What the tests will do: log in over TCP as cdc, with TLS (the client's
  # default, ssl-mode=PREFERRED) and in plain text with the server's RSA key,
  # and as root with its password.
  {
    "$MY_ROOT/bin/mysql" -h 127.0.0.1 -P "$MY_PORT" -u cdc -pcdc --ssl-mode=REQUIRED logtap -N -e 'select 1' &&
      "$MY_ROOT/bin/mysql" -h 127.0.0.1 -P "$MY_PORT" -u cdc -pcdc --ssl-mode=DISABLED \
        --get-server-public-key logtap -N -e 'select 1' &&
      "$MY_ROOT/bin/mysql" -h 127.0.0.1 -P "$MY_PORT" -u root -p"$MY_ROOT_PASSWORD" -N -e 'select 1'
  } >/dev/null 2>"$MY_DIR/check.log" ||
    fail_with_log "login over TCP failed" "$MY_DIR/check.log" "$MY_LOG"
  say "ready on 127.0.0.1:$MY_PORT (MySQL $(mysql_client -N -B -e 'select @@version')) in $(elapsed "$t0")"
}

mysql_down() {
  local SVC=mysql pid
  pid=$(read_pid "$MY_PID")
  if [ -n "$pid" ] && pid_is "$pid" "--datadir=$MY_DATA "; then
    # SIGTERM = normal shutdown (InnoDB flushes; about a second when idle).
    stop_pid "$pid" mysqld
    rm -f "$MY_PID"
    say "stopped"
  else
    say "not running"
  fi
}

mysql_status() {
  local SVC=mysql
  if mysql_running; then
    say "running (pid $(read_pid "$MY_PID")), 127.0.0.1:$MY_PORT $(mysql_ping 2>&1 | head -n 1)"
  else
    say "stopped"
    return 1
  fi
}


# `export` lines for the tests (scripts/services env).
mysql_env() {
  cat <<EOF
export LOGTAP_MYSQL97_URL='mysql://cdc:cdc@127.0.0.1:$MY_PORT/logtap'
export LOGTAP_MYSQL97_HOST='127.0.0.1'
export LOGTAP_MYSQL97_PORT='$MY_PORT'
export LOGTAP_MYSQL97_USER='cdc'
export LOGTAP_MYSQL97_PASSWORD='cdc'
export LOGTAP_MYSQL97_DB='logtap'
export LOGTAP_MYSQL97_ROOT_URL='mysql://root:$MY_ROOT_PASSWORD@127.0.0.1:$MY_PORT'
export LOGTAP_MYSQL97_SOCKET='$MY_SOCK'
export LOGTAP_MYSQL97_SSL_CA='$MY_DATA/ca.pem'
export LOGTAP_MYSQL97_CLIENT='$MY_ROOT/bin/mysql'
export LOGTAP_MYSQL97_BIN='$MY_ROOT/bin'
EOF
}

# The log files `scripts/services logs` shows.
mysql_logs() { printf '%s\n' "$MY_LOG" "$MY_DIR/mysqld.out" "$MY_DIR/init.err"; }
