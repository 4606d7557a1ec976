# Shared by the deploy/ scripts: make sure Postgres and Redis are up and tools exist.
# Sourced, not run.

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/towncard-target}
# CI builds each submission once: incremental data would only fill the disk.
if [ "${CI:-}" = "true" ]; then export CARGO_INCREMENTAL=0; fi

ensure_services() {
    if ! pg_isready -q -h 127.0.0.1 -p 5432; then
        echo "starting Postgres"
        pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start
    fi
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
    if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
        echo "starting Redis"
        redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
    fi
    for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
}

# apt packages the tests and reports need, installed only when missing.
# (pgbench ships with the Postgres server: /usr/lib/postgresql/*/bin/pgbench.)
ensure_packages() {
    local missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v xmllint >/dev/null || missing+=(libxml2-utils)
    command -v pdftoppm >/dev/null || missing+=(poppler-utils)
    command -v nginx >/dev/null || missing+=(nginx)
    command -v npm >/dev/null || missing+=(nodejs npm)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}
