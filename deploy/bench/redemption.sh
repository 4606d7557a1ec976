#!/usr/bin/env bash
# Redemption load benchmark: N simulated tablets (scan + redeem over HTTP) against
# the release build of merchant-redemption, then pgbench TPC-B with the same client
# count against the same Postgres; prints both and the ratio, and the hot-budget
# (one promotion) vs spread (one promotion per tablet) ratio. For reference it also
# replays the SQL of a scan + a redeem done one by one (the service's path without
# batches) with pgbench and no HTTP (the most one transaction per redemption
# allows), writes the same rows in
# batches of B redemptions per transaction (the least database work a redemption
# needs), measures an HTTP request at its cheapest (wrk on /healthz), and prints the
# CPU per transaction of every process. The redemption runs and TPC-B alternate in
# ROUNDS rounds (default 3), each ratio taken within its round (this host's speed
# drifts within minutes); the verdict is the median.
#
#   [ROUNDS=3] deploy/bench/redemption.sh [TABLETS] [SECONDS]
#
# Needs: Postgres on 127.0.0.1:5432 (user postgres, trust), Redis on 6379, pgbench,
# openssl, wrk (installed from Debian's packages when missing). Creates/overwrites
# the databases `towncard_bench` and `pgbench`.
set -euo pipefail
cd "$(dirname "$0")/../.."

TABLETS=${1:-32}
SECONDS_=${2:-20}
. deploy/bench/redemption-lib.sh

command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p merchant-redemption --bins >&2

bench_db

# CPU ticks (1/100 s) so far of Postgres backends, pgbench, the service and wrk, for
# the per-transaction CPU of the pgbench and wrk runs (the load generator prints its
# own for the redemptions), then the cores' busy and all ticks (/proc/stat; idle
# and I/O wait are not busy).
cpu_ticks() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk '{
    i = index($0, " ("); j = match($0, /\) [A-Z] /); c = substr($0, i + 2, j - i - 2)
    split(substr($0, j + 2), f, " "); t = f[12] + f[13]
    if (c ~ /^postgres/) pg += t; else if (c ~ /^pgbench/) b += t
    else if (c ~ /^merchant-redemp/) s += t; else if (c == "wrk") w += t
  } END { printf "%d %d %d %d ", pg, b, s, w }'
  awk '/^cpu / { a = 0; for (k = 2; k <= 9; k++) a += $k; print a - $5 - $6, a; exit }' /proc/stat
}
# The cluster's WAL records, full-page images and bytes so far (pg_stat_wal).
wal_now() { psql -d postgres -At -F' ' -c "SELECT wal_records, wal_fpi, wal_bytes::bigint FROM pg_stat_wal"; }
# Runs pgbench with $CLIENTS (default $TABLETS) clients for $SECONDS_ s (extra
# arguments appended); prints its tps, the ms of CPU per transaction of Postgres,
# pgbench and both, the cores' busy %, and the WAL records, full-page images and
# bytes per transaction, sampled from the 2nd second to the one before last
# (backends exit at the end).
timed_pgbench() {
  local out clients=${CLIENTS:-$TABLETS}; out=$(mktemp)
  pgbench -h $PGHOST -p $PGPORT -c "$clients" -j $((clients < 2 ? 1 : 2)) -T "$SECONDS_" "$@" >"$out" 2>&1 &
  local pid=$! a b
  sleep 2; a="$(cpu_ticks) $(wal_now)"; sleep $((SECONDS_ - 3)); b="$(cpu_ticks) $(wal_now)"
  wait "$pid" || { cat "$out" >&2; return 1; }
  awk -v a="$a" -v b="$b" -v s=$((SECONDS_ - 3)) '/^tps/ { t = $3 } END {
    split(a, x, " "); split(b, y, " "); n = t * s
    printf "%s %.3f %.3f %.3f %.1f %.1f %.2f %.0f\n", t, (y[1]-x[1])*10/n, (y[2]-x[2])*10/n, ((y[1]-x[1])+(y[2]-x[2]))*10/n,
      (y[5]-x[5])*100/(y[6]-x[6]), (y[7]-x[7])/n, (y[8]-x[8])/n, (y[9]-x[9])/n }' "$out"
  rm -f "$out"
}
# wrk on the service's /healthz ($TABLETS connections): the least CPU an HTTP request
# costs the service's stack and a lean client; prints requests/s and ms of CPU per
# request of the service and of wrk.
timed_wrk() {
  local out; out=$(mktemp)
  wrk -t 2 -c "$TABLETS" -d "${SECONDS_}s" "http://127.0.0.1:$PORT/healthz" >"$out" 2>&1 &
  local pid=$! a b
  sleep 2; a=$(cpu_ticks); sleep $((SECONDS_ - 3)); b=$(cpu_ticks)
  wait "$pid" || { cat "$out" >&2; return 1; }
  awk -v a="$a" -v b="$b" -v s=$((SECONDS_ - 3)) '/^Requests\/sec:/ { t = $2 } END {
    split(a, x, " "); split(b, y, " "); n = t * s
    printf "%s %.3f %.3f\n", t, (y[3]-x[3])*10/n, (y[4]-x[4])*10/n }' "$out"
  rm -f "$out"
}
trap 'stop_service; rm -rf "$KEYS"' EXIT

# TPC-B's database first: the rounds below interleave it with the redemption runs.
psql -d postgres -c "DROP DATABASE IF EXISTS pgbench" -c "CREATE DATABASE pgbench"
pgbench -h $PGHOST -p $PGPORT -U postgres -i -q -s "$TABLETS" pgbench >/dev/null 2>&1

run_service
# This host's speed drifts by half within minutes, so each round runs spread, hot
# and TPC-B back to back, and each ratio is taken within its round; the verdict
# is the median round's.
ROUNDS=${ROUNDS:-3}
SPREADS=() SPREAD_CPUS=() SPREAD_WALS=() HOTS=() TPSS=() TPS_CPUS=()
for r in $(seq "$ROUNDS"); do
  settle
  echo "== round $r/$ROUNDS: spread, $TABLETS tablets, one promotion each"
  out=$(loadgen --mode spread | tee -a /dev/stderr)
  SPREADS+=("$(awk '/^RESULT/ {print $3, $4, $5}' <<<"$out")")
  SPREAD_CPUS+=("$(awk '/^CPU/ {print $3, $4, $5, $6, $7, $8}' <<<"$out")")
  SPREAD_WALS+=("$(awk '/^WAL/ {print $3, $4, $5}' <<<"$out")")
  settle
  echo "== round $r/$ROUNDS: hot, $TABLETS tablets, one promotion (one budget)"
  HOTS+=("$(loadgen --mode hot | tee -a /dev/stderr | awk '/^RESULT/ {print $3, $4, $5}')")
  settle
  echo "== round $r/$ROUNDS: pgbench TPC-B, $TABLETS clients"
  read -r t c <<<"$(timed_pgbench -U postgres pgbench)"
  TPSS+=("$t") TPS_CPUS+=("$c")
done
# Redeems written in batches (several tablets' in one transaction), over all runs.
read -r BATCHED BATCHES <<<"$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '
  /^redemptions_batched_total/ { r = $2 } /^redemption_batches_total/ { b = $2 } END { print r + 0, b + 0 }')"
echo "== HTTP alone: wrk, $TABLETS connections, GET /healthz"
read -r HTTP_RPS HTTP_SVC HTTP_WRK <<<"$(timed_wrk)"
stop_service

# The one-by-one path's statements with no HTTP and no service: pgbench replays one
# scan and one redeem (deploy/bench/redemption-replay.sql) as the service's role, for the hot
# run's town, merchant, promotion and accounts (see the script's header).
echo "== one by one, SQL alone: pgbench replaying scan + redeem, $TABLETS clients"
REPLAY_VARS=$(psql -d towncard_bench -At -F' ' <<'SQL'
SELECT '-D town=' || r.town_id, '-D promotion=' || r.promotion_id, '-D code=' || t.code
FROM redemptions r JOIN towns t ON t.id = r.town_id ORDER BY r.recorded_at DESC LIMIT 1;
SQL
)
REPLAY_TOWN=$(sed 's/.*-D town=\([^ ]*\).*/\1/' <<<"$REPLAY_VARS")
psql -d towncard_bench <<SQL
CREATE TABLE bench_replay_cards AS
    SELECT row_number() OVER (ORDER BY id) AS n, id FROM cards WHERE town_id = '$REPLAY_TOWN';
ALTER TABLE bench_replay_cards ADD PRIMARY KEY (n);
-- Per tablet: its merchant, and the accounts of its last redemption's posting as
-- entries (budget, receivable, own discount, granted) and as net changes in the
-- ascending account order the ledger locks them in.
CREATE TABLE bench_replay_clients AS
    WITH m AS (SELECT DISTINCT ON (merchant_id) merchant_id, staff_user_id, journal_tx
               FROM redemptions WHERE town_id = '$REPLAY_TOWN' ORDER BY merchant_id, recorded_at DESC),
    e AS (SELECT m.*, e.idx, e.account_id, a.shards, a.non_negative,
                 (ARRAY[-1.60, 1.60, 1.59, -1.59])[e.idx + 1] AS delta
          FROM m JOIN journal_entries e ON e.transaction_id = m.journal_tx
          JOIN ledger_accounts a ON a.id = e.account_id)
    SELECT (row_number() OVER (ORDER BY merchant_id) - 1)::int AS client, merchant_id AS merchant,
           staff_user_id AS staff, array_agg(account_id ORDER BY idx) AS entry_accounts,
           array_agg(account_id ORDER BY account_id) AS net_accounts,
           array_agg(delta ORDER BY account_id) AS net_deltas,
           array_agg(shards ORDER BY account_id) AS net_shards,
           array_agg(non_negative ORDER BY account_id) AS net_guarded
    FROM e GROUP BY merchant_id, staff_user_id;
GRANT SELECT ON bench_replay_cards, bench_replay_clients TO towncard_app;
-- Fresh statistics (the tables filled up during the runs): without them the planner
-- takes the counters' and balances' indexes for tables of a few rows.
ANALYZE;
ALTER ROLE towncard_app IN DATABASE towncard_bench SET towncard.town_id = '$REPLAY_TOWN';
-- Enough budget for every replayed redemption (this database is the bench's own).
UPDATE ledger_balances SET balance = balance + 1000000
WHERE account_id = (SELECT id FROM ledger_accounts WHERE town_id = '$REPLAY_TOWN' AND kind = 'promotion_budget');
SQL
REPLAY_CARDS=$(psql -d towncard_bench -Atc "SELECT count(*) FROM bench_replay_cards")
REPLAY_CLIENTS=$(psql -d towncard_bench -Atc "SELECT count(*) FROM bench_replay_clients")
# shellcheck disable=SC2086 # the -D options are meant to split
REPLAY_OUT=$(timed_pgbench -U towncard_app -n -M prepared -f deploy/bench/redemption-replay.sql \
  $REPLAY_VARS -D cards="$REPLAY_CARDS" -D clients="$REPLAY_CLIENTS" towncard_bench)
read -r REPLAY REPLAY_CPU <<<"$REPLAY_OUT"

# A lower bound for batching: the same rows written B redemptions per transaction,
# one statement per table (deploy/bench/redemption-floor.sql), with $TABLETS / B
# clients so that as many redemptions are in flight as there are tablets.
FLOOR_LINES=""
for B in ${FLOOR_BATCHES:-4 16}; do
  echo "== least database work: $B redemptions per transaction, $((TABLETS / B)) clients"
  # shellcheck disable=SC2086
  read -r F_TPS F_PG F_CLIENT _ F_BUSY _ <<<"$(CLIENTS=$((TABLETS / B)) timed_pgbench -U towncard_app -n -M prepared \
    -f deploy/bench/redemption-floor.sql $REPLAY_VARS -D cards="$REPLAY_CARDS" \
    -D clients="$REPLAY_CLIENTS" -D b="$B" towncard_bench)"
  FLOOR_LINES+=$(awk -v b="$B" -v t="$F_TPS" -v pg="$F_PG" -v cl="$F_CLIENT" -v busy="$F_BUSY" 'BEGIN {
    printf "  %2d per transaction   %7.1f redemptions/s   postgres %.3f   pgbench %.3f ms CPU per redemption   cores busy %s %%\n",
      b, t * b, pg / b, cl / b, busy }')$'\n'
done
psql -d towncard_bench -c "ALTER ROLE towncard_app IN DATABASE towncard_bench RESET towncard.town_id"

# (Empty fields are skipped: the lists end with a space, and an empty line sorted
# first would shift the middle down by one.)
median() { tr ' ' '\n' | sort -g | awk 'NF { v[++n] = $1 } END { print v[int((n + 1) / 2)] }'; }
echo
echo "tablets=$TABLETS seconds=$SECONDS_ rounds=$ROUNDS"
RATIOS="" HOT_RATIOS="" SCAN_P99S="" REDEEM_P99S=""
for i in $(seq 0 $((ROUNDS - 1))); do
  read -r s_rate s_scan s_redeem <<<"${SPREADS[$i]}"
  read -r h_rate h_scan h_redeem <<<"${HOTS[$i]}"
  t=${TPSS[$i]}
  ratio=$(awk -v r="$s_rate" -v t="$t" 'BEGIN { printf "%.2f", r / t }')
  hot_ratio=$(awk -v h="$h_rate" -v s="$s_rate" 'BEGIN { printf "%.2f", h / s }')
  RATIOS+="$ratio " HOT_RATIOS+="$hot_ratio "
  SCAN_P99S+="$s_scan $h_scan " REDEEM_P99S+="$s_redeem $h_redeem "
  printf "round %d: spread %7.1f/s (scan p99 %s, redeem p99 %s ms)  hot %7.1f/s (%s, %s ms)  TPC-B %7.1f tps  ratio %s  hot/spread %s\n" \
    $((i + 1)) "$s_rate" "$s_scan" "$s_redeem" "$h_rate" "$h_scan" "$h_redeem" "$t" "$ratio" "$hot_ratio"
done
TPS=$(median <<<"${TPSS[*]}")
echo "median ratio redemptions/pgbench  $(median <<<"$RATIOS")  (target >= 1.0)"
echo "median ratio hot/spread           $(median <<<"$HOT_RATIOS")  (target >= 0.8)"
echo "median scan p99                   $(median <<<"$SCAN_P99S") ms  (target < 5; spread and hot runs)"
echo "median redeem p99                 $(median <<<"$REDEEM_P99S") ms  (target < 25)"
awk -v r="$BATCHED" -v b="$BATCHES" 'BEGIN { printf "batched redeems           %d in %d transactions (%.1f each)\n", r, b, b ? r / b : 0 }'
echo "replayed SQL alone tps     $REPLAY   (a scan + a redeem done one by one, no HTTP)"
awk -v r="$REPLAY" -v t="$TPS" 'BEGIN { printf "ratio replayed SQL/pgbench %.2f  (the most one transaction per redemption allows; median TPC-B)\n", r / t }'
echo
echo "CPU ms per transaction, all processes on this host (2 cores = 2,000 ms each second):"
for i in $(seq 0 $((ROUNDS - 1))); do
  read -r C_PG C_SVC C_GEN C_REDIS C_ALL C_BUSY <<<"${SPREAD_CPUS[$i]}"
  read -r T_PG T_CLIENT T_ALL T_BUSY _ <<<"${TPS_CPUS[$i]}"
  echo "  round $((i + 1)): redemption (spread)   postgres $C_PG   service $C_SVC   load generator $C_GEN   redis $C_REDIS   total $C_ALL   cores busy $C_BUSY %"
  echo "  round $((i + 1)): pgbench TPC-B         postgres $T_PG   pgbench $T_CLIENT   total $T_ALL   cores busy $T_BUSY %"
  awk -v n=$((i + 1)) -v cb="$C_BUSY" -v tb="$T_BUSY" -v ca="$C_ALL" -v ta="$T_ALL" 'BEGIN {
    if (tb > 0 && ca > 0) printf "  round %d: the ratio, factored       cores busy %.2f x CPU per transaction %.2f = %.2f\n",
      n, cb / tb, ta / ca, cb / tb * ta / ca }'
done
echo "  (a rate is the cores' busy share of 2,000 ms each second over the CPU per transaction,"
echo "   so redemptions / TPC-B = their busy shares' ratio x TPC-B's CPU over a redemption's)"
echo "WAL per transaction (records, full-page images, bytes):"
for i in $(seq 0 $((ROUNDS - 1))); do
  read -r W_REC W_FPI W_BYTES <<<"${SPREAD_WALS[$i]}"
  read -r _ _ _ _ T_REC T_FPI T_BYTES <<<"${TPS_CPUS[$i]}"
  echo "  round $((i + 1)): redemption (spread) $W_REC, $W_FPI, $W_BYTES   pgbench TPC-B $T_REC, $T_FPI, $T_BYTES"
done
read -r R_PG R_CLIENT R_ALL R_BUSY _ <<<"$REPLAY_CPU"
echo "  replayed SQL          postgres $R_PG   pgbench $R_CLIENT   total $R_ALL   cores busy $R_BUSY %"
echo
echo "least database work per redemption, batched (deploy/bench/redemption-floor.sql):"
printf "%s" "$FLOOR_LINES"
echo "HTTP alone (wrk, GET /healthz)  $HTTP_RPS requests/s   service $HTTP_SVC   wrk $HTTP_WRK ms CPU per request"
# The best a batched design could do here: the largest batch's database work, two
# requests at the HTTP floor, and Redis as measured; 2,000 ms of CPU each second.
F_BEST=$(awk 'END { print $NF }' <<<"$(printf "%s" "$FLOOR_LINES" | awk '{ print $7 }')")
awk -v f="$F_BEST" -v s="$HTTP_SVC" -v w="$HTTP_WRK" -v r="$C_REDIS" -v t="$TPS" 'BEGIN {
  c = f + 2 * (s + w) + r
  printf "best case per redemption: %.3f ms CPU (database %.3f + 2 requests %.3f + redis %.3f) -> at most %.0f/s = %.2f x TPC-B\n",
    c, f, 2 * (s + w), r, 2000 / c, 2000 / c / t }'
