# shellcheck shell=bash disable=SC2034 # sourced by scripts/services, which uses these variables
# Helpers shared by the service files, and the package installation.

START_TIMEOUT=${LOGTAP_SERVICES_TIMEOUT:-120}   # seconds, per service
STOP_TIMEOUT=60

# ============================================================================
# helpers
# ============================================================================

# "[svc] message" so that the output of the three parallel starts stays legible.
say() { printf '[%s] %s\n' "$SVC" "$*"; }

die() { printf '[%s] ERROR: %s\n' "${SVC:-services}" "$*" >&2; exit 1; }

# Microseconds since the epoch; EPOCHREALTIME uses the locale's decimal mark.
now_us() { local t=$EPOCHREALTIME; echo "${t//[.,]/}"; }

# Seconds since $1 (from now_us), one decimal.
elapsed() {
  local d=$(( $(now_us) - $1 ))
  printf '%d.%ds' $((d / 1000000)) $(((d / 100000) % 10))
}

# Last lines of a log when a start fails, then exit the (sub)shell.
fail_with_log() {
  local msg=$1; shift
  printf '[%s] ERROR: %s\n' "$SVC" "$msg" >&2
  local f
  for f in "$@"; do
    [ -s "$f" ] || continue
    printf '[%s] ---- last 50 lines of %s ----\n' "$SVC" "$f" >&2
    tail -n 50 "$f" >&2 || true
  done
  exit 1
}

# True if the pid is a live process. A killed daemon whose parent is gone may
# linger as a zombie if PID 1 does not reap (it happens in VMs/containers
# with a minimal init), and `kill -0` succeeds on zombies: look at the state.
pid_alive() {
  local pid=$1 state
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Z]).*/\1/' "/proc/$pid/stat" 2>/dev/null) || return 1
  [ "$state" != Z ] && [ "$state" != X ]
}

# pid_alive and the command line contains $2: a pid file from a previous boot
# may point at an unrelated process that got the same pid.
pid_is() {
  local pid=$1 pattern=$2
  pid_alive "$pid" || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern"
}

# Logs are appended across starts; a marker line shows where this one began
# when `logs` or a failed `up` prints a tail.
log_marker() {
  local f
  for f in "$@"; do
    [ -e "$f" ] || continue
    printf '==== scripts/services: starting at %s ====\n' "$(date '+%F %T')" >>"$f"
  done
}

read_pid() {
  if [ -s "$1" ]; then tr -dc '0-9' <"$1"; fi
}

# TCP port accepts connections (bash's /dev/tcp, no nc needed).
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# SIGTERM, wait up to STOP_TIMEOUT, then SIGKILL. We cannot `wait` (the
# daemons are not our children), so poll.
stop_pid() {
  local pid=$1 what=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 5; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  say "$what (pid $pid) did not stop in ${STOP_TIMEOUT}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    pid_alive "$pid" || return 0
    sleep 0.2
  done
  say "$what (pid $pid) still alive after SIGKILL"
  return 1
}

# Unix socket paths are limited to 107 bytes; a deep LOGTAP_SERVICES_DIR
# would otherwise fail with an obscure bind error.
check_socket_path() {
  if [ "${#1}" -gt 100 ]; then
    die "socket path too long (${#1} > 100 bytes): $1; set LOGTAP_SERVICES_DIR to a shorter directory"
  fi
}

# The server processes run as postgres/mysql: every parent of the state dir
# must be searchable by them (a state dir under /root would not be).
check_reachable_by() {
  local user=$1 dir=$2
  runuser -u "$user" -- test -w "$dir" ||
    die "user $user cannot write $dir (are all its parent directories world-searchable?)"
}

# ============================================================================
# packages (sequential: apt holds a lock, so this runs before the parallel
# starts)
# ============================================================================

ensure_packages() {
  local SVC=packages pkgs=() mariadb_new=0 t0
  pg_bin >/dev/null || pkgs+=(postgresql)
  # node and npm fetch a PostgreSQL major that Debian does not have (see
  # pg_dist_fetch); only when such a major is asked for and not cached yet.
  if want postgres && [ -n "${LOGTAP_PG_MAJOR:-}" ] &&
    [ ! -x "/usr/lib/postgresql/$LOGTAP_PG_MAJOR/bin/initdb" ] &&
    [ ! -f "$REPO/target/postgresql-${PG_NPM_VERSIONS[$LOGTAP_PG_MAJOR]}/.complete" ]; then
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
  fi
  if ! mariadbd_bin >/dev/null; then pkgs+=(mariadb-server); mariadb_new=1; fi
  command -v mariadb >/dev/null && command -v mariadb-admin >/dev/null || pkgs+=(mariadb-client)
  command -v java >/dev/null || pkgs+=(openjdk-17-jre-headless)
  command -v openssl >/dev/null || pkgs+=(openssl)
  # mvn only when the Kafka jars are not cached yet.
  if [ ! -f "$KAFKA_LIBS/.complete" ] && ! command -v mvn >/dev/null; then pkgs+=(maven); fi
  [ "${#pkgs[@]}" -eq 0 ] && return 0

  t0=$(now_us)
  say "installing ${pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Empty package lists (fresh image): update first; otherwise try without
  # the update and only refresh the lists when the install fails (stale lists
  # point at versions the mirror no longer has).
  if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
    apt-get update -q
  fi
  # 9>&-: package scripts may start services (see take_lock).
  if ! apt-get install -y -q --no-install-recommends "${pkgs[@]}" 9>&-; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${pkgs[@]}" 9>&-
  fi

  # The Debian package starts (or would start at boot) a system mariadb on
  # 3306 with its own datadir. We run our own instance; stop and disable
  # theirs so it does not use memory or confuse anybody.
  if [ "$mariadb_new" = 1 ]; then
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now mariadb >/dev/null 2>&1 9>&- || true
    else
      service mariadb stop >/dev/null 2>&1 9>&- || true
      update-rc.d mariadb disable >/dev/null 2>&1 || true
    fi
  fi
  say "installed in $(elapsed "$t0")"
}

# The users and grants of both MySQL-family servers (MariaDB and MySQL): the
# `logtap` database, the `cdc` user with replication and SELECT, and root
# over TCP with the password given as $1. Idempotent.
my_users_sql() {
  cat <<SQL
CREATE DATABASE IF NOT EXISTS logtap;
CREATE USER IF NOT EXISTS 'cdc'@'%' IDENTIFIED BY 'cdc';
CREATE USER IF NOT EXISTS 'cdc'@'localhost' IDENTIFIED BY 'cdc';
ALTER USER 'cdc'@'%' IDENTIFIED BY 'cdc';
ALTER USER 'cdc'@'localhost' IDENTIFIED BY 'cdc';
GRANT REPLICATION SLAVE, REPLICATION CLIENT, SELECT ON *.* TO 'cdc'@'%', 'cdc'@'localhost';
GRANT ALL PRIVILEGES ON logtap.* TO 'cdc'@'%', 'cdc'@'localhost';
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '$1';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '$1';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
SQL
}

# TLS for the tests: a throwaway CA and a server certificate it signed, for
# CN localhost with subjectAltNames IP:127.0.0.1 and DNS:localhost, so that
# sslmode=verify-full works with either name. Made once and kept; made again
# only if a file is missing, the pair does not verify or the server
# certificate expires within a day. The CA key stays next to the rest so a
# test could sign more certificates; nothing here is secret. Everything in
# DIR is owned by OWNER and the keys are 0600; WORK holds the temp dir and
# the log. Usage: make_tls_files DIR OWNER WORK
make_tls_files() {
  local dir=$1 owner=$2 work=$3
  local ca=$dir/ca.crt crt=$dir/server.crt key=$dir/server.key tmp
  if [ -s "$ca" ] && [ -s "$crt" ] && [ -s "$key" ] &&
    openssl verify -CAfile "$ca" "$crt" >/dev/null 2>&1 &&
    openssl x509 -checkend 86400 -noout -in "$crt" >/dev/null 2>&1; then
    return 0
  fi
  command -v openssl >/dev/null || die "openssl (the command) not found"
  say "making a test CA and server certificate in $dir"
  # Made in a temp dir and renamed: an interrupted run leaves no half pair.
  tmp=$work/tls.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$tmp"
  (
    set -e
    cd "$tmp"
    umask 077
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout ca.key -out ca.crt -days 3650 -subj "/CN=logtap test CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout server.key -out server.csr -subj "/CN=localhost"
    printf '%s\n' "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" "extendedKeyUsage=serverAuth" \
      "subjectAltName=IP:127.0.0.1,DNS:localhost" >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -out server.crt -days 3650 -extfile server.ext
    rm -f server.csr server.ext ca.srl
    chmod 0600 ca.key server.key
    chmod 0644 ca.crt server.crt
  ) >"$work/tls.log" 2>&1 || fail_with_log "making the TLS certificates failed" "$work/tls.log"
  # Readable by all (the tests read ca.crt as any user), keys excepted.
  chmod 0755 "$tmp"
  chown -R "$owner:$owner" "$tmp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}
