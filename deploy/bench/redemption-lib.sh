# Sourced by redemption.sh and redemption-quick.sh (from the repository root, after
# TABLETS and SECONDS_ are set): the bench database, the release service on it, and
# the load generator's runs.
PGHOST=127.0.0.1
PGPORT=5432
PORT=${BENCH_PORT:-18080}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/towncard-target}
BIN=$CARGO_TARGET_DIR/release
export BENCH_ADMIN_URL=postgres://postgres@$PGHOST:$PGPORT/towncard_bench
CARDS=$(( 2500 * SECONDS_ / 20 + 500 ))

psql() { command psql -h $PGHOST -p $PGPORT -U postgres -v ON_ERROR_STOP=1 -q "$@"; }

# A new database `towncard_bench` with every migration, and a signing key in $KEYS.
bench_db() {
  psql -d postgres -c "DROP DATABASE IF EXISTS towncard_bench" -c "CREATE DATABASE towncard_bench"
  for f in migrations/*.sql; do psql -d towncard_bench -f "$f" >/dev/null; done
  KEYS=$(mktemp -d)
  openssl genpkey -algorithm ed25519 -out "$KEYS/bench.pem" 2>/dev/null
}

# The service on $PORT, with the caller's environment (a TOWNCARD_* setting passes
# through; BENCH_DATABASE_URL replaces its address of the database) and the
# tablets' rate limit raised far above a real tablet's pace.
run_service() {
  TOWNCARD__SERVER__PORT=$PORT \
  TOWNCARD__DATABASE__URL=${BENCH_DATABASE_URL:-postgres://towncard_app@$PGHOST:$PGPORT/towncard_bench} \
  TOWNCARD__DATABASE__ADMIN_URL=postgres://postgres@$PGHOST:$PGPORT/towncard_bench \
  TOWNCARD__DATABASE__MAX_CONNECTIONS=${BENCH_POOL:-24} \
  TOWNCARD__AUTH__KEYS_DIR=$KEYS \
  TOWNCARD_REDEMPTION_UNLOCK_PER_MINUTE=1000000 \
  TOWNCARD_REDEMPTION_DEVICE_PER_MINUTE=60000000 \
  TOWNCARD__LOG__FILTER=warn \
    "$BIN/merchant-redemption" >/tmp/redemption-bench.log 2>&1 &
  SERVICE=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return; sleep 0.2; done
  curl -s "http://127.0.0.1:$PORT/" >/dev/null || true
}
stop_service() { kill "$SERVICE" 2>/dev/null || true; wait "$SERVICE" 2>/dev/null || true; }

# Before each run the bench database is vacuumed, so that autovacuum does not
# work off the previous run's rows during the next (pgbench vacuums its own).
settle() { psql -d towncard_bench -c "VACUUM (ANALYZE)"; }

# One run of the load generator: $TABLETS tablets for $SECONDS_ s after its warmup;
# extra arguments (`--mode spread|hot`) appended.
loadgen() {
  "$BIN/redemption-loadgen" --url "http://127.0.0.1:$PORT" --tablets "$TABLETS" \
    --seconds "$SECONDS_" --cards "$CARDS" "$@"
}
