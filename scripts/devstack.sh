#!/usr/bin/env bash
# Project-local PostgreSQL, Redis and Apache Kafka, for development and tests.
#
#   scripts/devstack.sh start    start what is not running yet (idempotent)
#   scripts/devstack.sh stop     stop only what this script started (pid files); names pick services
#   scripts/devstack.sh status   one line per service
#   scripts/devstack.sh tools    install test-only tools (docker-compose, chromium) if missing
#   scripts/devstack.sh bench-tools  install what bench/ needs beyond the services (wrk) if missing
#
# The "pushpin" service is the public side: a front proxy (nginx) on DEVSTACK_PUSHPIN_PORT
# (8000) sends /events/ to Pushpin (with its zurl: it holds the browsers' SSE streams; on
# 127.0.0.1:25565) and everything else straight to Django at DEVSTACK_PUSHPIN_ORIGIN
# (127.0.0.1:8001, where the Procfile runs gunicorn); Pushpin publishes on 127.0.0.1:25561.
# Several instances can run side by side: DEVSTACK_PUSHPIN_NAME names one (its
# directory in .devstack/), DEVSTACK_PUSHPIN_PORT_OFFSET moves Pushpin's ports.
#
# Data lives in .devstack/ (git-ignored) and survives stop/start. Every failure
# prints one line naming the cause and the fix, and exits non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK="${DEVSTACK_DIR:-$ROOT/.devstack}"

PG_PORT="${DEVSTACK_PG_PORT:-54329}"
REDIS_PORT="${DEVSTACK_REDIS_PORT:-63799}"
KAFKA_PORT="${DEVSTACK_KAFKA_PORT:-29092}"
KAFKA_CONTROLLER_PORT="${DEVSTACK_KAFKA_CONTROLLER_PORT:-29093}"
KAFKA_HEAP="${DEVSTACK_KAFKA_HEAP:-512m}"
PUSHPIN_NAME="${DEVSTACK_PUSHPIN_NAME:-pushpin}"
PUSHPIN_PORT="${DEVSTACK_PUSHPIN_PORT:-8000}"
PUSHPIN_ORIGIN="${DEVSTACK_PUSHPIN_ORIGIN:-127.0.0.1:8001}"
PUSHPIN_PORT_OFFSET="${DEVSTACK_PUSHPIN_PORT_OFFSET:-0}"
PUSHPIN_CONTROL_PORT=$((25561 + PUSHPIN_PORT_OFFSET))
PUSHPIN_HTTP_PORT=$((25565 + PUSHPIN_PORT_OFFSET))  # behind the front proxy: /events/ only
# The front proxy admits this many new streams a second in all and queues the rest (a reconnect storm).
STREAM_RATE="${DEVSTACK_STREAM_OPENS_PER_S:-200}"
STREAM_BURST="${DEVSTACK_STREAM_OPENS_QUEUED_MAX:-20000}"
PUSHPIN_METRICS_PORT=$((25564 + PUSHPIN_PORT_OFFSET))  # its handler's Prometheus endpoint
PROMETHEUS_PORT="${DEVSTACK_PROMETHEUS_PORT:-9090}"
# Pushpin signs what it proxies with this key and Django checks it (settings: GRIP_KEY).
GRIP_KEY="${GRIP_KEY:-local-development-grip-key-never-in-production}"
START_TIMEOUT_S="${DEVSTACK_START_TIMEOUT_S:-90}"

die() { echo "devstack: $*" >&2; exit 1; }
say() { echo "devstack: $*"; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() { # name port pidfile logfile
  local deadline=$((SECONDS + START_TIMEOUT_S))
  until port_open "$2"; do
    pid_alive "$3" || die "$1 exited during start-up; see $4"
    [ $SECONDS -lt $deadline ] || die "$1 did not answer on port $2 within ${START_TIMEOUT_S}s; see $4"
    sleep 0.3
  done
}

refuse_foreign_port() { # name port env-var
  if port_open "$2"; then
    die "port $2 is already in use by another process, not by our $1; stop that process or choose another port with $3=<port>"
  fi
}

apt_install() { # package...
  [ "$(id -u)" = 0 ] || die "$* missing; install it (apt-get install $*) or run as root so this script can"
  command -v apt-get >/dev/null || die "$* missing and apt-get is not available; install $* by hand"
  say "installing $* with apt-get"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$STACK/apt.log" 2>&1 \
    || die "apt-get install $* failed (Debian registry unreachable?); see $STACK/apt.log"
}

# --- PostgreSQL -------------------------------------------------------------

pg_bin() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  echo "$d"
}

pg_as_owner() { # PostgreSQL refuses to run as root: use the postgres system user then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_external() {
  [ -n "${DATABASE_URL:-}" ] && [[ "$DATABASE_URL" != *":$PG_PORT/"* ]]
}

pg_start() {
  if pg_external; then say "postgres: DATABASE_URL points elsewhere, not starting a local cluster"; return; fi
  local dir="$STACK/postgres" pidfile="$STACK/postgres/data/postmaster.pid"
  if [ -z "$(pg_bin)" ]; then apt_install postgresql; fi
  local bin; bin="$(pg_bin)"
  [ -x "$bin/initdb" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql; apt-get install postgresql"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  if pg_as_owner "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    say "postgres: already running on port $PG_PORT"; return
  fi
  refuse_foreign_port postgres "$PG_PORT" DEVSTACK_PG_PORT
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    say "postgres: initialising cluster in $dir/data"
    pg_as_owner "$bin/initdb" -D "$dir/data" -U prepaid --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || die "initdb failed; see $dir/initdb.log"
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir'
max_connections = 400
shared_buffers = 256MB
EOF
  fi
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t "$START_TIMEOUT_S" start >/dev/null \
    || die "postgres failed to start; see $dir/postgres.log"
  if ! pg_as_owner "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U prepaid -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname = 'prepaid'" | grep -q 1; then
    pg_as_owner "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U prepaid prepaid
  fi
  say "postgres: running on 127.0.0.1:$PG_PORT (pid $(head -n 1 "$pidfile"))"
}

pg_stop() {
  local bin; bin="$(pg_bin)"
  [ -n "$bin" ] && [ -f "$STACK/postgres/data/postmaster.pid" ] || return 0
  pg_as_owner "$bin/pg_ctl" -D "$STACK/postgres/data" -m fast -w stop >/dev/null 2>&1 && say "postgres: stopped" || true
}

# --- Redis ------------------------------------------------------------------

redis_start() {
  local dir="$STACK/redis" pidfile="$STACK/redis/redis.pid"
  command -v redis-server >/dev/null || apt_install redis-server
  mkdir -p "$dir"
  if pid_alive "$pidfile"; then say "redis: already running on port $REDIS_PORT"; return; fi
  refuse_foreign_port redis "$REDIS_PORT" DEVSTACK_REDIS_PORT
  rm -f "$pidfile"  # left by a machine that stopped without us: its pid is another process's now
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --daemonize yes \
    --pidfile "$pidfile" --logfile "$dir/redis.log" --appendonly yes --save "" >/dev/null \
    || die "redis-server failed to start; see $dir/redis.log"
  local deadline=$((SECONDS + 10))
  until [ -s "$pidfile" ]; do [ $SECONDS -lt $deadline ] || die "redis wrote no pid file; see $dir/redis.log"; sleep 0.1; done
  wait_port redis "$REDIS_PORT" "$pidfile" "$dir/redis.log"
  say "redis: running on 127.0.0.1:$REDIS_PORT (pid $(cat "$pidfile"))"
}

redis_stop() { stop_pidfile redis "$STACK/redis/redis.pid"; }

# --- Kafka (KRaft, single node, jars from Maven Central) -------------------

kafka_fetch() {
  local lib="$STACK/kafka/lib" stamp="$STACK/kafka/lib/.pom.sha"
  local sha; sha="$(sha256sum "$ROOT/deploy/kafka/pom.xml" | cut -d' ' -f1)"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$sha" ]; then return; fi
  command -v mvn >/dev/null || die "Maven (mvn) not found; it fetches Kafka from Maven Central: apt-get install maven"
  say "kafka: fetching broker jars from Maven Central (first run only)"
  rm -rf "$lib" && mkdir -p "$lib"
  mvn -q -B -f "$ROOT/deploy/kafka/pom.xml" dependency:copy-dependencies -DoutputDirectory="$lib" \
    >"$STACK/kafka/mvn.log" 2>&1 \
    || die "could not fetch Kafka jars with Maven (Maven Central unreachable?); see $STACK/kafka/mvn.log"
  echo "$sha" >"$stamp"
}

kafka_start() {
  local dir="$STACK/kafka" pidfile="$STACK/kafka/kafka.pid"
  command -v java >/dev/null || die "Java not found; Kafka needs a JRE 17+: apt-get install openjdk-17-jre-headless"
  mkdir -p "$dir"
  if pid_alive "$pidfile"; then say "kafka: already running on port $KAFKA_PORT"; return; fi
  refuse_foreign_port kafka "$KAFKA_PORT" DEVSTACK_KAFKA_PORT
  refuse_foreign_port kafka-controller "$KAFKA_CONTROLLER_PORT" DEVSTACK_KAFKA_CONTROLLER_PORT
  kafka_fetch
  sed -e "s#@DATA@#$dir/data#; s#@PORT@#$KAFKA_PORT#g; s#@CONTROLLER_PORT@#$KAFKA_CONTROLLER_PORT#g" \
    "$ROOT/deploy/kafka/server.properties" >"$dir/server.properties"
  local cp="$dir/lib/*" log4j="-Dlog4j2.configurationFile=$ROOT/deploy/kafka/log4j2.properties -Dkafka.logs.dir=$dir"
  if [ ! -f "$dir/data/meta.properties" ]; then
    say "kafka: formatting KRaft storage in $dir/data"
    # shellcheck disable=SC2086
    java $log4j -cp "$cp" kafka.tools.StorageTool format \
      -t "$(java -cp "$cp" kafka.tools.StorageTool random-uuid)" -c "$dir/server.properties" \
      >"$dir/format.log" 2>&1 || die "kafka storage format failed; see $dir/format.log"
  fi
  # shellcheck disable=SC2086
  nohup java -Xmx"$KAFKA_HEAP" -Xms"$KAFKA_HEAP" $log4j -cp "$cp" kafka.Kafka "$dir/server.properties" \
    >"$dir/kafka.out" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_port kafka "$KAFKA_PORT" "$pidfile" "$dir/kafka.out"
  say "kafka: running on localhost:$KAFKA_PORT (pid $(cat "$pidfile"))"
}

kafka_stop() { stop_pidfile kafka "$STACK/kafka/kafka.pid"; }

# --- Pushpin (GRIP proxy) and zurl --------------------------------------------

pushpin_start() {
  local dir="$STACK/$PUSHPIN_NAME" pidfile="$STACK/$PUSHPIN_NAME/pushpin.pid"
  command -v pushpin >/dev/null && command -v condure >/dev/null && command -v zurl >/dev/null \
    || apt_install pushpin condure zurl
  mkdir -p "$dir/run" "$dir/log"
  # The instance's configuration, from the templates; a running one with another is restarted.
  local conf routes
  conf="$(sed -e "s#@RUNDIR@#$dir/run#; s#@LOGDIR@#$dir/log#; s#@HTTP_PORT@#127.0.0.1:$PUSHPIN_HTTP_PORT#" \
      -e "s#@PORT_OFFSET@#$PUSHPIN_PORT_OFFSET#; s#@ROUTES@#$dir/routes#; s#@SIG_KEY@#$GRIP_KEY#; s#@CONTROL_ADDR@#127.0.0.1#" \
      -e "s#@METRICS_PORT@#$PUSHPIN_METRICS_PORT#" \
      "$ROOT/deploy/pushpin/pushpin.conf")"
  routes="$(sed -e "s#@ORIGIN@#$PUSHPIN_ORIGIN#" "$ROOT/deploy/pushpin/routes")"
  if pid_alive "$pidfile"; then
    if [ "$conf" = "$(cat "$dir/pushpin.conf" 2>/dev/null)" ] && [ "$routes" = "$(cat "$dir/routes" 2>/dev/null)" ]; then
      say "$PUSHPIN_NAME: Pushpin already running on port $PUSHPIN_HTTP_PORT"; front_start; return
    fi
    say "$PUSHPIN_NAME: configuration changed, restarting"
    stop_pidfile "$PUSHPIN_NAME" "$pidfile" >/dev/null
  fi
  refuse_foreign_port "$PUSHPIN_NAME" "$PUSHPIN_HTTP_PORT" DEVSTACK_PUSHPIN_PORT_OFFSET
  refuse_foreign_port "$PUSHPIN_NAME-control" "$PUSHPIN_CONTROL_PORT" DEVSTACK_PUSHPIN_PORT_OFFSET
  printf '%s\n' "$conf" >"$dir/pushpin.conf"
  printf '%s\n' "$routes" >"$dir/routes"
  nohup pushpin --config="$dir/pushpin.conf" >"$dir/pushpin.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_port "$PUSHPIN_NAME" "$PUSHPIN_HTTP_PORT" "$pidfile" "$dir/pushpin.log"
  wait_port "$PUSHPIN_NAME-control" "$PUSHPIN_CONTROL_PORT" "$pidfile" "$dir/log/pushpin-handler.log"
  say "$PUSHPIN_NAME: Pushpin on 127.0.0.1:$PUSHPIN_HTTP_PORT, publishing on 127.0.0.1:$PUSHPIN_CONTROL_PORT (pid $(cat "$pidfile"))"
  front_start
}

# The front proxy (nginx): the public port; /events/ to Pushpin, the rest to Django.
front_start() {
  local dir="$STACK/$PUSHPIN_NAME/front" pidfile="$STACK/$PUSHPIN_NAME/front/run/nginx.pid" conf
  command -v nginx >/dev/null || apt_install nginx
  mkdir -p "$dir/run" "$dir/log"
  conf="$(sed -e "s#@RUNDIR@#$dir/run#g; s#@LOGDIR@#$dir/log#g; s#@LISTEN@#127.0.0.1:$PUSHPIN_PORT#" \
      -e "s#@ORIGIN@#$PUSHPIN_ORIGIN#; s#@PUSHPIN@#127.0.0.1:$PUSHPIN_HTTP_PORT#" \
      -e "s#@STREAM_RATE@#$STREAM_RATE#; s#@STREAM_BURST@#$STREAM_BURST#" "$ROOT/deploy/nginx/nginx.conf")"
  if pid_alive "$pidfile"; then
    if [ "$conf" = "$(cat "$dir/nginx.conf" 2>/dev/null)" ]; then
      say "$PUSHPIN_NAME: front proxy already running on port $PUSHPIN_PORT"; return
    fi
    stop_pidfile "$PUSHPIN_NAME-front" "$pidfile" >/dev/null
  fi
  refuse_foreign_port "$PUSHPIN_NAME-front" "$PUSHPIN_PORT" DEVSTACK_PUSHPIN_PORT
  printf '%s\n' "$conf" >"$dir/nginx.conf"
  nohup nginx -p "$dir" -c "$dir/nginx.conf" >"$dir/nginx.log" 2>&1 </dev/null &
  echo $! >"$dir/nginx.launcher.pid"
  wait_port "$PUSHPIN_NAME-front" "$PUSHPIN_PORT" "$dir/nginx.launcher.pid" "$dir/log/error.log"
  say "$PUSHPIN_NAME: front proxy on 127.0.0.1:$PUSHPIN_PORT: /events/ -> Pushpin, the rest -> $PUSHPIN_ORIGIN (pid $(cat "$pidfile"))"
}

pushpin_stop() {
  stop_pidfile "$PUSHPIN_NAME-front" "$STACK/$PUSHPIN_NAME/front/run/nginx.pid"
  rm -f "$STACK/$PUSHPIN_NAME/front/nginx.launcher.pid"
  stop_pidfile "$PUSHPIN_NAME" "$STACK/$PUSHPIN_NAME/pushpin.pid"
}

# --- Prometheus (make run: scrapes the platform's /metrics and Pushpin; alert rules) ---

prometheus_start() {
  local dir="$STACK/prometheus" pidfile="$STACK/prometheus/prometheus.pid"
  command -v prometheus >/dev/null || apt_install prometheus
  mkdir -p "$dir/data"
  sed -e "s#@WEB@#$PUSHPIN_ORIGIN#; s#@PUSHPIN@#127.0.0.1:$PUSHPIN_METRICS_PORT#; s#127.0.0.1:9090#127.0.0.1:$PROMETHEUS_PORT#" \
    "$ROOT/deploy/prometheus/prometheus.yml" >"$dir/prometheus.yml"
  cp "$ROOT/deploy/prometheus/alerts.yml" "$dir/alerts.yml"
  if pid_alive "$pidfile"; then
    kill -HUP "$(cat "$pidfile")"  # reload the configuration and the rules
    say "prometheus: already running on port $PROMETHEUS_PORT (configuration reloaded)"; return
  fi
  refuse_foreign_port prometheus "$PROMETHEUS_PORT" DEVSTACK_PROMETHEUS_PORT
  nohup prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/data" \
    --storage.tsdb.retention.time=7d --web.listen-address="127.0.0.1:$PROMETHEUS_PORT" \
    >"$dir/prometheus.log" 2>&1 </dev/null &
  echo $! >"$pidfile"
  wait_port prometheus "$PROMETHEUS_PORT" "$pidfile" "$dir/prometheus.log"
  say "prometheus: running on http://127.0.0.1:$PROMETHEUS_PORT (pid $(cat "$pidfile"))"
}

prometheus_stop() { stop_pidfile prometheus "$STACK/prometheus/prometheus.pid"; }

stop_pidfile() { # name pidfile
  pid_alive "$2" || { rm -f "$2"; return 0; }
  local pid deadline=$((SECONDS + 60)); pid="$(cat "$2")"
  kill "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then kill -9 "$pid" 2>/dev/null || true; fi
    sleep 0.2
  done
  rm -f "$2"
  say "$1: stopped"
}

status() {
  local bin; bin="$(pg_bin)"
  if [ -n "$bin" ] && pg_as_owner "$bin/pg_ctl" -D "$STACK/postgres/data" status >/dev/null 2>&1; then
    say "postgres: running on $PG_PORT"; else say "postgres: stopped"; fi
  if pid_alive "$STACK/redis/redis.pid"; then say "redis: running on $REDIS_PORT"; else say "redis: stopped"; fi
  if pid_alive "$STACK/kafka/kafka.pid"; then say "kafka: running on $KAFKA_PORT"; else say "kafka: stopped"; fi
  if pid_alive "$STACK/$PUSHPIN_NAME/pushpin.pid"; then say "$PUSHPIN_NAME: Pushpin running on $PUSHPIN_HTTP_PORT"; else say "$PUSHPIN_NAME: Pushpin stopped"; fi
  if pid_alive "$STACK/$PUSHPIN_NAME/front/run/nginx.pid"; then say "$PUSHPIN_NAME: front proxy running on $PUSHPIN_PORT"; else say "$PUSHPIN_NAME: front proxy stopped"; fi
  if pid_alive "$STACK/prometheus/prometheus.pid"; then say "prometheus: running on $PROMETHEUS_PORT"; else say "prometheus: stopped"; fi
}

mkdir -p "$STACK"
check_free_port() { # port env-var: for processes the Makefile starts itself (web)
  if port_open "$1"; then die "port $1 is already in use by another process; stop it or choose another port with $2=<port>"; fi
}

tools() { # test-only tools from Debian: compose file validation, a headless browser, promtool, plpgsql_check
  local missing=() major
  major="$(basename "$(dirname "$(pg_bin)")")"
  [ -f "/usr/share/postgresql/$major/extension/plpgsql_check.control" ] || missing+=("postgresql-$major-plpgsql-check")
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v promtool >/dev/null || missing+=(prometheus)
  command -v chromium >/dev/null || missing+=(chromium)
  # Hangul in the browser test's screenshots (the page is Korean first).
  [ -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || missing+=(fonts-noto-cjk)
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
}

gettext_tools() { # msgfmt, which compiles the message catalogues (locale/): make run and make test need it
  command -v msgfmt >/dev/null || apt_install gettext
}

bench_tools() { # the benchmarks' load generator (pgbench comes with PostgreSQL), the hordak peer's environment
  command -v wrk >/dev/null || apt_install wrk
  local peer="$ROOT/.venv-peer" stamp="$ROOT/.venv-peer/.requirements"
  if ! cmp -s "$ROOT/bench/peer/requirements.txt" "$stamp" 2>/dev/null; then
    say "bench-tools: the hordak peer's environment (.venv-peer, bench/peer/requirements.txt)"
    [ -x "$peer/bin/python" ] || "${PYTHON:-python3.11}" -m venv "$peer" || die "could not create $peer"
    "$peer/bin/pip" install -q -r "$ROOT/bench/peer/requirements.txt" || die "pip could not install bench/peer/requirements.txt"
    cp "$ROOT/bench/peer/requirements.txt" "$stamp"
  fi
}

cmd="${1:-}"; shift || true
services=("$@"); [ ${#services[@]} -gt 0 ] || services=(postgres redis kafka pushpin)
given=$#  # services named on the command line (none: all of them)
case "$cmd" in
  start) for s in "${services[@]}"; do case "$s" in
           postgres) pg_start ;; redis) redis_start ;; kafka) kafka_start ;; pushpin) pushpin_start ;;
           prometheus) prometheus_start ;;
           *) die "unknown service $s (postgres, redis, kafka, pushpin, prometheus)" ;; esac; done ;;
  stop) [ "$given" -gt 0 ] || services+=(prometheus)  # stop: every service, Prometheus too
        for s in prometheus pushpin kafka redis postgres; do [[ " ${services[*]} " == *" $s "* ]] || continue
          case "$s" in postgres) pg_stop ;; redis) redis_stop ;; kafka) kafka_stop ;; pushpin) pushpin_stop ;;
          prometheus) prometheus_stop ;; esac; done ;;
  status) status ;;
  tools) tools ;;
  gettext) gettext_tools ;;
  bench-tools) bench_tools ;;
  check-free-port) check_free_port "${services[0]}" "${services[1]:-PORT}" ;;
  *) echo "usage: $0 start [postgres|redis|kafka|pushpin|prometheus...]|stop|status|tools|gettext|bench-tools|check-free-port PORT VAR" >&2; exit 2 ;;
esac
