#!/usr/bin/env bash
# One quick redemption run, for trying a setting: a new bench database, the release
# service with the caller's environment (a TOWNCARD_* setting passes through;
# BENCH_DATABASE_URL replaces its address of the database), and one run of the load
# generator after its warmup. Prints the load generator's RESULT (rate, scan p99,
# redeem p99), CPU (ms per redemption of Postgres, service, load generator, Redis,
# all; cores busy %) and WAL lines, and how the service's batches went. This host's
# speed drifts within minutes: alternate runs with and without the setting.
#
#   [SKIP_BUILD=1] [SETTING=value ...] deploy/bench/redemption-quick.sh [spread|hot] [TABLETS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."

MODE=${1:-spread}
TABLETS=${2:-32}
SECONDS_=${3:-12}
. deploy/bench/redemption-lib.sh

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p merchant-redemption --bins >&2
bench_db
trap 'stop_service; rm -rf "$KEYS"' EXIT
run_service
settle
loadgen --mode "$MODE" | grep -E '^(RESULT|CPU|WAL)'
curl -s "http://127.0.0.1:$PORT/metrics" | awk '
  /^redemptions_batched_total/ { r = $2 } /^redemption_batches_total/ { b = $2 }
  /^redemption_batch_gathers_total/ { print "GATHER", $0 }
  END { printf "BATCHES %d redeems in %d transactions (%.1f each)\n", r, b, b ? r / b : 0 }'
