#!/usr/bin/env bash
# Settlement benchmark: a town with 1,000,000 redemptions across 500 merchants in one
# month, then close + every download (as the service role towncard_app, under RLS):
# both CSVs, XLSX, town PDF, SEPA pain.001 and a PDF statement per merchant, made
# concurrently (export::render_all), each timed, with the peak memory of the process.
#
#   deploy/bench/settlement.sh                     # 1,000,000 redemptions, 500 merchants
#   REDEMPTIONS=100000 deploy/bench/settlement.sh  # smaller
#   KEEP=1 deploy/bench/settlement.sh              # also keep the generated month as a template
#   REUSE=1 deploy/bench/settlement.sh             # close + export a fresh copy of that template
#   EXPLAIN=1 ...                                  # also EXPLAIN ANALYZE the close's aggregate
#
# Needs Postgres (DATABASE_URL, default the local one) and GNU time (/usr/bin/time).
# Creates its own database, towncard_bench_settlement, dropping an earlier one.
set -euo pipefail
cd "$(dirname "$0")/../.."

ADMIN_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB=${BENCH_DB:-towncard_bench_settlement}
BENCH_URL="${ADMIN_URL%/*}/$DB"
REDEMPTIONS=${REDEMPTIONS:-1000000}
MERCHANTS=${MERCHANTS:-500}
MONTH=${MONTH:-2026-03}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bench-settlement}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

# PROFILE=dev reuses the test build (dependencies at opt-level 1) instead of a release build.
PROFILE=${PROFILE:-release}
cargo build --profile "$PROFILE" -p settlement --bin settlement-bench 2>&1 | tail -1
BIN="$CARGO_TARGET_DIR/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")"

TEMPLATE="${DB}_generated"
if [ "${REUSE:-}" = 1 ]; then
  echo "== reusing the generated month in $TEMPLATE"
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB TEMPLATE $TEMPLATE"
else
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
  echo "== generate: $REDEMPTIONS redemptions, $MERCHANTS merchants, $MONTH"
  /usr/bin/time -f "generate: %e s wall, %M KB peak RSS" \
    "$BIN/settlement-bench" --database-url "$BENCH_URL" generate --town bench --month "$MONTH" \
    --redemptions "$REDEMPTIONS" --merchants "$MERCHANTS"
  psql "$BENCH_URL" -qc "VACUUM ANALYZE" >/dev/null
  if [ "${KEEP:-}" = 1 ]; then
    psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $TEMPLATE" -c "CREATE DATABASE $TEMPLATE TEMPLATE $DB"
  fi
fi
# A copied database starts with cold caches; read the month once, as a running
# server would have it.
psql "$BENCH_URL" -qc "SELECT count(*) FROM redemptions" -c "SELECT count(*) FROM journal_entries" >/dev/null
if [ "${EXPLAIN:-}" = 1 ]; then
  "$BIN/settlement-bench" --database-url "$BENCH_URL" explain-close --town bench --month "$MONTH"
fi

echo "== load: $(uptime | sed 's/.*load average/load average/') ($(nproc) cores)"
echo "== close + all downloads"
rm -rf "$OUT"
/usr/bin/time -f "close + all downloads: %e s wall, %M KB peak RSS" \
  "$BIN/settlement-bench" --database-url "${BENCH_URL/postgres@/towncard_app@}" close-and-export --town bench --month "$MONTH" --out "$OUT"
ls -l "$OUT" | head -8
echo "== load: $(uptime | sed 's/.*load average/load average/')"
echo "== the SEPA file against its schema"
xmllint --noout --schema services/settlement/tests/schema/pain.001.001.09.xsd "$OUT/payout.xml"
