# shellcheck shell=bash disable=SC2034 # sourced by scripts/services, which uses these variables
# Toxiproxy (a TCP proxy that injects faults) for scripts/services.

# ---- Toxiproxy -----------------------------------------------------------------
# The chaos tests put it between logtap and each server: a proxy per test
# for PostgreSQL and MariaDB/MySQL (made through its HTTP API), and one for
# Kafka made here, in front of the broker's PROXIED listener, which
# advertises the proxy's address so that every broker connection goes
# through it. Built from the Go module proxy with the machine's Go.
WITH_TOXIPROXY=${LOGTAP_TOXIPROXY:-0}
TOXI_VERSION=2.5.0
TOXI_PORT=${LOGTAP_TOXIPROXY_PORT:-$((28474 + PORT_OFFSET))}
TOXI_BIN=$REPO/target/toxiproxy-$TOXI_VERSION/toxiproxy-server
TOXI_DIR=$STATE/toxiproxy
TOXI_PID=$TOXI_DIR/toxiproxy.pid
TOXI_LOG=$TOXI_DIR/toxiproxy.log

toxiproxy_running() {
  local pid
  pid=$(read_pid "$TOXI_PID")
  [ -n "$pid" ] && pid_is "$pid" toxiproxy-server
}

# go install into a temp dir, renamed when complete (GOPATH under target/,
# so the module cache goes with the rest of the build state).
toxiproxy_build() {
  [ -x "$TOXI_BIN" ] && return 0
  local t0 tmp
  t0=$(now_us)
  command -v go >/dev/null || export PATH=$PATH:/usr/local/go/bin
  command -v go >/dev/null || die "go not found (Toxiproxy is built from its Go module)"
  say "building toxiproxy-server $TOXI_VERSION with $(go version | cut -d' ' -f3)"
  tmp=$(dirname "$TOXI_BIN").tmp.$$
  rm -rf "$tmp" && mkdir -p "$tmp"
  GOPATH=$REPO/target/gopath GOBIN=$tmp GOFLAGS=-modcacherw \
    go install "github.com/Shopify/toxiproxy/v2/cmd/server@v$TOXI_VERSION" >"$tmp.log" 2>&1 ||
    fail_with_log "go install toxiproxy failed" "$tmp.log"
  mv "$tmp/server" "$tmp/toxiproxy-server"
  rm -rf "$(dirname "$TOXI_BIN")" "$tmp.log"
  mv "$tmp" "$(dirname "$TOXI_BIN")"
  say "built in $(elapsed "$t0")"
}

toxiproxy_up() {
  local SVC=toxiproxy t0 i
  t0=$(now_us)
  toxiproxy_build
  mkdir -p "$TOXI_DIR"
  if toxiproxy_running; then
    say "already running (pid $(read_pid "$TOXI_PID"))"
  else
    if port_open "$TOXI_PORT"; then die "port $TOXI_PORT is in use by another process"; fi
    cat >"$TOXI_DIR/proxies.json" <<JSON
[{"name": "kafka", "listen": "127.0.0.1:$KAFKA_PROXY_PORT", "upstream": "127.0.0.1:$KAFKA_PROXIED_PORT", "enabled": true}]
JSON
    rm -f "$TOXI_PID"
    # shellcheck disable=SC2016 # expanded by the inner bash
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$TOXI_PID" \
      "$TOXI_BIN" -host 127.0.0.1 -port "$TOXI_PORT" -config "$TOXI_DIR/proxies.json" \
      </dev/null >>"$TOXI_LOG" 2>&1 &
    for ((i = 0; ; i++)); do
      curl -fsS "http://127.0.0.1:$TOXI_PORT/version" >/dev/null 2>&1 && break
      ((i < START_TIMEOUT * 5)) || fail_with_log "toxiproxy not answering after ${START_TIMEOUT}s" "$TOXI_LOG"
      sleep 0.2
    done
  fi
  say "ready on 127.0.0.1:$TOXI_PORT (Kafka through 127.0.0.1:$KAFKA_PROXY_PORT) in $(elapsed "$t0")"
}

toxiproxy_down() {
  local SVC=toxiproxy pid
  pid=$(read_pid "$TOXI_PID")
  if [ -n "$pid" ] && pid_is "$pid" toxiproxy-server; then
    stop_pid "$pid" toxiproxy-server
    say "stopped"
  else
    say "not running"
  fi
  rm -f "$TOXI_PID"
}

toxiproxy_status() {
  local SVC=toxiproxy
  if toxiproxy_running; then
    say "running (pid $(read_pid "$TOXI_PID")), 127.0.0.1:$TOXI_PORT"
  else
    say "stopped"
    return 1
  fi
}

toxiproxy_env() {
  cat <<ENV
export LOGTAP_TOXIPROXY_URL='http://127.0.0.1:$TOXI_PORT'
export LOGTAP_KAFKA_PROXIED_BOOTSTRAP='127.0.0.1:$KAFKA_PROXY_PORT'
ENV
}

toxiproxy_logs() { printf '%s\n' "$TOXI_LOG"; }
