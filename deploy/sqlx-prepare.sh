#!/usr/bin/env bash
# Rebuilds a scratch database from migrations/ and regenerates .sqlx/ (the offline
# query data of the ledger's sqlx::query! macros). Run after changing a migration or a
# checked query. `--check` only verifies that .sqlx/ is current (CI does this).
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh
ensure_services
DB=${SQLX_PREPARE_DB:-towncard_sqlx}
URL="postgres://postgres@127.0.0.1:5432/$DB"
command -v cargo-sqlx >/dev/null || cargo install sqlx-cli@0.9.0 --locked --no-default-features --features postgres,rustls
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" postgres
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $DB" postgres
DATABASE_URL=$URL cargo sqlx migrate run --source migrations
DATABASE_URL=$URL SQLX_OFFLINE=false cargo sqlx prepare --workspace "$@" -- --all-targets
