#!/usr/bin/env bash
# Redemption load benchmark: N simulated tablets (scan + redeem over HTTP) against
# the release build of merchant-redemption, then pgbench TPC-B with the same client
# count against the same Postgres; prints both and the ratio, and the hot-budget
# (one promotion) vs spread (one promotion per tablet) ratio.
#
#   deploy/bench/redemption.sh [TABLETS] [SECONDS]
#
# Needs: Postgres on 127.0.0.1:5432 (user postgres, trust), Redis on 6379, pgbench,
# openssl. Creates/overwrites the databases `towncard_bench` and `pgbench`.
set -euo pipefail
cd "$(dirname "$0")/../.."

TABLETS=${1:-32}
SECONDS_=${2:-20}
PGHOST=127.0.0.1
PGPORT=5432
PORT=${BENCH_PORT:-18080}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/towncard-target}
BIN=$CARGO_TARGET_DIR/release

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p merchant-redemption --bins >&2

psql() { command psql -h $PGHOST -p $PGPORT -U postgres -v ON_ERROR_STOP=1 -q "$@"; }
psql -d postgres -c "DROP DATABASE IF EXISTS towncard_bench" -c "CREATE DATABASE towncard_bench"
for f in migrations/*.sql; do psql -d towncard_bench -f "$f" >/dev/null; done

KEYS=$(mktemp -d)
openssl genpkey -algorithm ed25519 -out "$KEYS/bench.pem" 2>/dev/null

run_service() {
  TOWNCARD__SERVER__PORT=$PORT \
  TOWNCARD__DATABASE__URL=postgres://towncard_app@$PGHOST:$PGPORT/towncard_bench \
  TOWNCARD__DATABASE__ADMIN_URL=postgres://postgres@$PGHOST:$PGPORT/towncard_bench \
  TOWNCARD__DATABASE__MAX_CONNECTIONS=${BENCH_POOL:-24} \
  TOWNCARD__AUTH__KEYS_DIR=$KEYS \
  TOWNCARD__AUTH__LOGIN_PER_MINUTE=0 \
  TOWNCARD__LOG__FILTER=warn \
    "$BIN/merchant-redemption" >/tmp/redemption-bench.log 2>&1 &
  SERVICE=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && return; sleep 0.2; done
  curl -s "http://127.0.0.1:$PORT/" >/dev/null || true
}
stop_service() { kill "$SERVICE" 2>/dev/null || true; wait "$SERVICE" 2>/dev/null || true; }
trap 'stop_service; rm -rf "$KEYS"' EXIT

run_service
export BENCH_ADMIN_URL=postgres://postgres@$PGHOST:$PGPORT/towncard_bench
CARDS=$(( 2500 * SECONDS_ / 20 + 500 ))
echo "== spread: $TABLETS tablets, one promotion each"
SPREAD=$("$BIN/redemption-loadgen" --url "http://127.0.0.1:$PORT" --tablets "$TABLETS" --seconds "$SECONDS_" --mode spread --cards "$CARDS" | tee /dev/stderr | awk '/^RESULT/ {print $3, $4, $5}')
echo "== hot: $TABLETS tablets, one promotion (one budget)"
HOT=$("$BIN/redemption-loadgen" --url "http://127.0.0.1:$PORT" --tablets "$TABLETS" --seconds "$SECONDS_" --mode hot --cards "$CARDS" | tee /dev/stderr | awk '/^RESULT/ {print $3, $4, $5}')
stop_service

echo "== pgbench TPC-B, $TABLETS clients"
psql -d postgres -c "DROP DATABASE IF EXISTS pgbench" -c "CREATE DATABASE pgbench"
pgbench -h $PGHOST -p $PGPORT -U postgres -i -q -s "$TABLETS" pgbench >/dev/null 2>&1
TPS=$(pgbench -h $PGHOST -p $PGPORT -U postgres -c "$TABLETS" -j 2 -T "$SECONDS_" pgbench 2>/dev/null | awk '/^tps/ {print $3; exit}')

read -r SPREAD_RATE SCAN_P99 REDEEM_P99 <<<"$SPREAD"
read -r HOT_RATE HOT_SCAN_P99 HOT_REDEEM_P99 <<<"$HOT"
echo
echo "tablets=$TABLETS seconds=$SECONDS_"
echo "redemptions/s (spread)   $SPREAD_RATE   scan p99 ${SCAN_P99} ms   redeem p99 ${REDEEM_P99} ms"
echo "redemptions/s (hot)      $HOT_RATE   scan p99 ${HOT_SCAN_P99} ms   redeem p99 ${HOT_REDEEM_P99} ms"
echo "pgbench TPC-B tps        $TPS"
awk -v r="$SPREAD_RATE" -v t="$TPS" 'BEGIN { printf "ratio redemptions/pgbench  %.2f  (target >= 1.0)\n", r / t }'
awk -v h="$HOT_RATE" -v s="$SPREAD_RATE" 'BEGIN { printf "ratio hot/spread           %.2f  (target >= 0.8)\n", h / s }'
