# shellcheck shell=bash disable=SC2034 # sourced by scripts/services, which uses these variables
# Apache Kafka (KRaft) for scripts/services.
#
# Kafka 4.3.1 (checked in kafka-tools-4.3.1.jar / kafka_2.13-4.3.1.jar with
# `unzip -l`):
#   broker                 kafka.Kafka                                (kafka_2.13)
#   storage formatter      kafka.tools.StorageTool                    (kafka_2.13)
#   kafka-topics           org.apache.kafka.tools.TopicCommand        (kafka-tools)
#   console producer       org.apache.kafka.tools.ConsoleProducer     (kafka-tools)
#   console consumer       org.apache.kafka.tools.consumer.ConsoleConsumer
#   consumer groups        org.apache.kafka.tools.consumer.group.ConsumerGroupCommand
#   producer perf test     org.apache.kafka.tools.ProducerPerformance
# Run any of them as
#   java -Dlog4j2.configurationFile=file:$LOGTAP_KAFKA_TOOLS_LOG4J \
#        -cp "$LOGTAP_KAFKA_LIBS/*" <class> ...
# Hand-tested after `up` (Kafka 4.3.1); the partitions printed match
# murmur2(key) % 6, i.e. the Java client's default partitioner:
#   T=(java -Dlog4j2.configurationFile=file:$LOGTAP_KAFKA_TOOLS_LOG4J
#      -cp "$LOGTAP_KAFKA_LIBS/*")
#   "${T[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server \
#       127.0.0.1:29092 --create --topic t6 --partitions 6 --replication-factor 1
#   printf 'k1:v1\nk2:v2\n' | "${T[@]}" org.apache.kafka.tools.ConsoleProducer \
#       --bootstrap-server 127.0.0.1:29092 --topic t6 \
#       --reader-property parse.key=true --reader-property key.separator=:
#   "${T[@]}" org.apache.kafka.tools.consumer.ConsoleConsumer \
#       --bootstrap-server 127.0.0.1:29092 --topic t6 --from-beginning \
#       --max-messages 2 --formatter-property print.partition=true \
#       --formatter-property print.key=true
#   stdout: one line per record, "Partition:5<TAB>k1<TAB>v1", in fetch order
#   (sort if needed); stderr: "Processed a total of 2 messages" and an info
#   line about KIP-848. The older `--property` spelling still works in 4.3
#   for both tools but prints a deprecation warning on stderr.

# ---- Kafka -----------------------------------------------------------------
KAFKA_VERSION=${LOGTAP_KAFKA_VERSION:-4.3.1}
KAFKA_PORT=${LOGTAP_KAFKA_PORT:-$((29092 + PORT_OFFSET))}
KAFKA_CONTROLLER_PORT=${LOGTAP_KAFKA_CONTROLLER_PORT:-$((29093 + PORT_OFFSET))}
# A second client listener, SASL over TLS (PLAIN and SCRAM-SHA-256/512), for
# the tests of Kafka TLS and authentication. The test CA and server
# certificate (make_tls_files) name 127.0.0.1; the user and password are the
# harness's, not secrets.
KAFKA_SASL_PORT=${LOGTAP_KAFKA_SASL_PORT:-$((29094 + PORT_OFFSET))}
KAFKA_SASL_USER=logtap
# A third, plain listener that advertises Toxiproxy's address in front of
# it (toxiproxy.sh), for the chaos tests' network faults.
KAFKA_PROXIED_PORT=${LOGTAP_KAFKA_PROXIED_PORT:-$((29095 + PORT_OFFSET))}
KAFKA_PROXY_PORT=${LOGTAP_KAFKA_PROXY_PORT:-$((29096 + PORT_OFFSET))}
KAFKA_SASL_PASSWORD=logtap-sasl-pw
KAFKA_LIBS=$REPO/target/kafka-libs-$KAFKA_VERSION
KAFKA_DIR=$STATE/kafka
KAFKA_DATA=$KAFKA_DIR/data
KAFKA_LOGS=$KAFKA_DIR/logs
KAFKA_PID=$KAFKA_DIR/kafka.pid
KAFKA_PROPS=$KAFKA_DIR/server.properties
KAFKA_TLS=$KAFKA_DIR/tls
KAFKA_LOG4J=$SERVICES_D/log4j2.properties
KAFKA_TOOLS_LOG4J=$SERVICES_D/tools-log4j2.properties

kafka_java() {
  # Short-lived tool JVMs: C1 only and serial GC start noticeably faster.
  java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="file:$KAFKA_TOOLS_LOG4J" \
    -cp "$KAFKA_LIBS/*" "$@"
}

# ============================================================================
# Kafka (KRaft, one combined broker+controller node)
# ============================================================================

kafka_running() {
  local pid
  pid=$(read_pid "$KAFKA_PID")
  [ -n "$pid" ] && pid_is "$pid" kafka.Kafka
}

kafka_fetch_libs() {
  [ -f "$KAFKA_LIBS/.complete" ] && return 0
  local t0 tmp
  t0=$(now_us)
  say "fetching Kafka $KAFKA_VERSION jars with Maven"
  command -v mvn >/dev/null || die "mvn not found"
  # Download into a temp dir and rename: an interrupted fetch must not look
  # like a complete cache. ~/.m2 keeps the downloads across cache wipes.
  tmp=$KAFKA_LIBS.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$(dirname "$KAFKA_LIBS")"
  mvn -B -q -f "$SERVICES_D/pom.xml" -Dkafka.version="$KAFKA_VERSION" \
    dependency:copy-dependencies -DoutputDirectory="$tmp" >"$tmp.log" 2>&1 ||
    fail_with_log "mvn dependency:copy-dependencies failed" "$tmp.log"
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] ||
    fail_with_log "kafka_2.13-$KAFKA_VERSION.jar missing after mvn" "$tmp.log"
  touch "$tmp/.complete"
  rm -rf "$KAFKA_LIBS"
  mv "$tmp" "$KAFKA_LIBS"
  rm -f "$tmp.log"
  say "jars in $KAFKA_LIBS ($(elapsed "$t0"))"
}

kafka_write_config() {
  cat >"$KAFKA_PROPS" <<EOF
# written by scripts/services; edits are overwritten on the next start
process.roles=broker,controller
node.id=1
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT,PROXIED://127.0.0.1:$KAFKA_PROXIED_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,SASL_SSL://127.0.0.1:$KAFKA_SASL_PORT,PROXIED://127.0.0.1:$KAFKA_PROXY_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL,PROXIED:PLAINTEXT
# SASL_SSL: the PEM key and certificate of make_tls_files; PLAIN users in
# the JAAS line, SCRAM users stored in the cluster (kafka_scram_user).
ssl.keystore.type=PEM
ssl.keystore.location=$KAFKA_TLS/server.pem
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$KAFKA_SASL_USER="$KAFKA_SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
controller.quorum.bootstrap.servers=127.0.0.1:$KAFKA_CONTROLLER_PORT
log.dirs=$KAFKA_DATA
# tests create their topics explicitly, with the partition count they need
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
# single node: every internal topic has one replica; few partitions so the
# first consumer group / transaction does not create 50 partitions
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
}

kafka_format() {
  [ -f "$KAFKA_DATA/meta.properties" ] && return 0
  local id
  say "formatting storage"
  id=$(kafka_java kafka.tools.StorageTool random-uuid 2>"$KAFKA_DIR/format.log") ||
    fail_with_log "StorageTool random-uuid failed" "$KAFKA_DIR/format.log"
  kafka_java kafka.tools.StorageTool format -t "$id" -c "$KAFKA_PROPS" --standalone \
    >>"$KAFKA_DIR/format.log" 2>&1 ||
    fail_with_log "StorageTool format failed" "$KAFKA_DIR/format.log"
}

kafka_up() {
  local SVC=kafka t0 i
  t0=$(now_us)
  command -v java >/dev/null || die "java not found"
  kafka_fetch_libs
  mkdir -p "$KAFKA_DATA" "$KAFKA_LOGS"

  if kafka_running; then
    say "already running (pid $(read_pid "$KAFKA_PID"))"
  else
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$KAFKA_SASL_PORT" "$KAFKA_PROXIED_PORT"; do
      if port_open "$p"; then die "port $p is in use by another process"; fi
    done
    make_tls_files "$KAFKA_TLS" "$(id -un)" "$KAFKA_DIR"
    cat "$KAFKA_TLS/server.key" "$KAFKA_TLS/server.crt" >"$KAFKA_TLS/server.pem"
    kafka_write_config
    kafka_format
    log_marker "$KAFKA_LOGS/server.log" "$KAFKA_LOGS/stdout.log"
    rm -f "$KAFKA_PID"
    # The little bash writes its own pid, then execs java: the pid file holds
    # the JVM's pid whether or not setsid had to fork. JVM flags are those of
    # Kafka's kafka-run-class.sh / kafka-server-start.sh, smaller heap.
    # shellcheck disable=SC2016 # expanded by the inner bash
    setsid bash -c 'echo $$ >"$0"; exec "$@"' "$KAFKA_PID" \
      java -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
      -Djava.awt.headless=true \
      -Dlog4j2.configurationFile="file:$KAFKA_LOG4J" -Dkafka.logs.dir="$KAFKA_LOGS" \
      -cp "$KAFKA_LIBS/*" kafka.Kafka "$KAFKA_PROPS" \
      </dev/null >>"$KAFKA_LOGS/stdout.log" 2>&1 &
    # Wait for the listener, failing fast if the JVM dies.
    for ((i = 0; ; i++)); do
      port_open "$KAFKA_PORT" && break
      if ((i > 10)) && ! kafka_running; then
        fail_with_log "kafka exited during startup" "$KAFKA_LOGS/server.log" "$KAFKA_LOGS/stdout.log"
      fi
      ((i < START_TIMEOUT * 5)) ||
        fail_with_log "kafka not listening after ${START_TIMEOUT}s" "$KAFKA_LOGS/server.log" "$KAFKA_LOGS/stdout.log"
      sleep 0.2
    done
  fi
  # The port opens before the broker can serve metadata; a real admin call
  # (what the tests do next) proves it is usable.
  timeout 90 java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
    -Dlog4j2.configurationFile="file:$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" \
    org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" --list \
    >/dev/null 2>"$KAFKA_DIR/check.log" ||
    fail_with_log "TopicCommand --list failed" "$KAFKA_DIR/check.log" "$KAFKA_LOGS/server.log"
  kafka_scram_user
  say "ready on 127.0.0.1:$KAFKA_PORT (Kafka $KAFKA_VERSION) in $(elapsed "$t0")"
}

# The SCRAM credentials of the SASL_SSL listener's user, stored in the
# cluster's metadata: set once per data directory (a marker file in it).
kafka_scram_user() {
  local done=$KAFKA_DATA/.scram-user-$KAFKA_SASL_USER m
  [ -f "$done" ] && return 0
  # One mechanism per call: the broker refuses two changes of one user's
  # credentials in a request.
  for m in SCRAM-SHA-256 SCRAM-SHA-512; do
    timeout 90 java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
      -Dlog4j2.configurationFile="file:$KAFKA_TOOLS_LOG4J" -cp "$KAFKA_LIBS/*" \
      kafka.admin.ConfigCommand --bootstrap-server "127.0.0.1:$KAFKA_PORT" \
      --alter --entity-type users --entity-name "$KAFKA_SASL_USER" \
      --add-config "$m=[password=$KAFKA_SASL_PASSWORD]" >>"$KAFKA_DIR/check.log" 2>&1 ||
      fail_with_log "adding the $m user $KAFKA_SASL_USER failed" "$KAFKA_DIR/check.log"
  done
  touch "$done"
}

kafka_down() {
  local SVC=kafka pid
  pid=$(read_pid "$KAFKA_PID")
  if [ -n "$pid" ] && pid_is "$pid" kafka.Kafka; then
    # SIGTERM = controlled shutdown (a few seconds for a combined node).
    stop_pid "$pid" kafka
    say "stopped"
  else
    say "not running"
  fi
  # Only if it still names the process handled above (stale or just stopped).
  [ "$(read_pid "$KAFKA_PID")" = "$pid" ] && rm -f "$KAFKA_PID"
  return 0
}

kafka_status() {
  local SVC=kafka
  if kafka_running; then
    local l=closed
    port_open "$KAFKA_PORT" && l=listening
    say "running (pid $(read_pid "$KAFKA_PID")), 127.0.0.1:$KAFKA_PORT $l"
  else
    say "stopped"
    return 1
  fi
}


# `export` lines for the tests (scripts/services env).
kafka_env() {
  cat <<EOF
export LOGTAP_KAFKA_BOOTSTRAP='127.0.0.1:$KAFKA_PORT'
export LOGTAP_KAFKA_SASL_SSL_BOOTSTRAP='127.0.0.1:$KAFKA_SASL_PORT'
export LOGTAP_KAFKA_SASL_USER='$KAFKA_SASL_USER'
export LOGTAP_KAFKA_SASL_PASSWORD='$KAFKA_SASL_PASSWORD'
export LOGTAP_KAFKA_SSL_CA='$KAFKA_TLS/ca.crt'
export LOGTAP_KAFKA_VERSION='$KAFKA_VERSION'
export LOGTAP_KAFKA_LIBS='$KAFKA_LIBS'
export LOGTAP_KAFKA_TOOLS_LOG4J='$KAFKA_TOOLS_LOG4J'
EOF
}

# The log files `scripts/services logs` shows.
kafka_logs() {
  printf '%s\n' "$KAFKA_LOGS/server.log" "$KAFKA_LOGS/stdout.log" "$KAFKA_DIR/format.log" "$KAFKA_DIR/check.log"
}
