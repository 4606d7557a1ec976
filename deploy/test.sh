#!/usr/bin/env bash
# Runs the full test suite against the real Postgres and Redis on this machine
# (each test gets its own database) and the real browser.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/lib.sh
ensure_services
ensure_packages
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
# A failing test's message (for the browser tests: every step's output) is what CI
# shows of a failure; a backtrace of async frames would push it out of view.
export RUST_BACKTRACE=${TEST_BACKTRACE:-0}
# playwright-core drives Debian's chromium; it never downloads a browser.
(cd services/settlement/tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd services/merchant-redemption/tests/browser && npm ci --no-audit --no-fund --loglevel=error)
cargo test --workspace --no-fail-fast "$@"
# The tablet's offline core (QR verification, rules, money) under node and in Chromium.
node --test services/merchant-redemption/tablet/test/
# Pages in a real browser (ignored by a plain `cargo test`: they need node and chromium):
# the municipality console, and the counter tablet with a fake camera.
# (--workspace keeps the features of the build above, so nothing is rebuilt.)
cargo test --workspace --test browser --test tablet_browser -- --ignored
