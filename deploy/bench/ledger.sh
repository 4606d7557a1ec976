#!/usr/bin/env bash
# Ledger hot-account benchmark: redemption-shaped postings/s against one promotion
# budget (16 shards), the same budget in one row, and 16 budgets; prints the ratios.
# Uses a scratch database towncard_bench_ledger (created and dropped).
set -euo pipefail
cd "$(dirname "$0")/../.."
. deploy/lib.sh
ensure_services
cargo build --release -p ledger --example hot_account
"$CARGO_TARGET_DIR/release/examples/hot_account"
