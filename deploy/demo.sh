#!/usr/bin/env bash
# Brings the whole system up with demo data: creates and migrates the database,
# makes a signing key if there is none, seeds the demo town of Koper and serves all
# three services on http://127.0.0.1:8080 (override with TOWNCARD__SERVER__PORT).
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh
ensure_services
# Links printed by the demo point at the port it listens on.
export TOWNCARD__SERVER__PUBLIC_URL=${TOWNCARD__SERVER__PUBLIC_URL:-http://127.0.0.1:${TOWNCARD__SERVER__PORT:-8080}}
export TOWNCARD__LOG__FORMAT=${TOWNCARD__LOG__FORMAT:-pretty}
export TOWNCARD__LOG__FILTER=${TOWNCARD__LOG__FILTER:-warn,towncard=info}
cargo build -p towncard
exec "$CARGO_TARGET_DIR/debug/towncard" demo
