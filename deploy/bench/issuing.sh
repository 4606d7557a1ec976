#!/usr/bin/env bash
# Benchmark of card-issuing: a 10,000-card print batch through the real service
# (release build, real Postgres and Redis): issue the batch, download its CSV (numbers,
# signed QR payloads, page links) and all 1,000 printable A4 SVG sheets (QR images
# included); then print the QR version of a real token.
#
#   deploy/bench/issuing.sh            # 10,000 cards
#   COUNT=2000 deploy/bench/issuing.sh
#
# Needs: Postgres at 127.0.0.1:5432 (user postgres, trust), Redis at 127.0.0.1:6379,
# curl, jq, psql, python3 with the `cryptography` package (to mint a staff token).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
COUNT=${COUNT:-10000}
PORT=${PORT:-18441}
PARALLEL=${PARALLEL:-4}
DB=towncard_bench_issuing
PG=${PG:-postgres://postgres@127.0.0.1:5432}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/root/.cache/towncard-target}
WORK=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
PID=

cd "$ROOT"
echo "building card-issuing (release)…"
cargo build --release -q -p card-issuing
BIN="$CARGO_TARGET_DIR/release/card-issuing"

echo "fresh database $DB…"
psql -q "$PG/postgres" -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
for f in migrations/*.sql; do
  psql -q -v ON_ERROR_STOP=1 "$PG/$DB" -f "$f" >/dev/null
done
TOWN=$(python3 -c 'import uuid; print(uuid.uuid4())')
psql -q -v ON_ERROR_STOP=1 "$PG/$DB" >/dev/null <<SQL
INSERT INTO towns (id, slug, code, name, iban) VALUES ('$TOWN', 'bench', 990, 'Bench Town', 'SI56191000000123438');
INSERT INTO card_products (id, town_id, code, names, kind, validity_hours, price)
VALUES (gen_random_uuid(), '$TOWN', 'KC48',
        '{"sl": "Kartica 48 ur", "en": "48-hour card", "it": "Carta 48 ore"}', 'tourist_hours', 48, 22.00);
SQL

# A staff signing key for the service and a TIC operator's token signed with it.
mkdir -p "$WORK/keys"
TOKEN=$(python3 - "$WORK/keys" "$TOWN" <<'PY'
import base64, hashlib, json, sys, time, uuid
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
keys, town = sys.argv[1], sys.argv[2]
k = Ed25519PrivateKey.generate()
pub = k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
kid = "ed-" + hashlib.sha256(pub).hexdigest()[:16]
pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
open(f"{keys}/{kid}.pem", "wb").write(pem)
b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
head = b64(json.dumps({"alg": "EdDSA", "typ": "JWT", "kid": kid}).encode())
body = b64(json.dumps({"iss": "towncard", "aud": "towncard", "sub": str(uuid.uuid4()), "iat": now,
                       "exp": now + 3600, "role": "tic_operator", "town": town}).encode())
print(f"{head}.{body}." + b64(k.sign(f"{head}.{body}".encode())))
PY
)

URL="http://127.0.0.1:$PORT"
TOWNCARD__DATABASE__URL="postgres://towncard_app@127.0.0.1:5432/$DB" \
TOWNCARD__DATABASE__ADMIN_URL="$PG/$DB" \
TOWNCARD__AUTH__KEYS_DIR="$WORK/keys" \
TOWNCARD__SERVER__PORT="$PORT" \
TOWNCARD__SERVER__PUBLIC_URL="$URL" \
TOWNCARD__SERVER__REQUEST_TIMEOUT_SECS=300 \
TOWNCARD__LOG__FILTER=warn \
  "$BIN" >"$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 1 100); do
  curl -fs "$URL/healthz" >/dev/null && break
  sleep 0.1
done

AUTH="authorization: Bearer $TOKEN"
now() { date +%s.%N; }
t0=$(now)
BATCH=$(curl -fsS -H "$AUTH" -H 'content-type: application/json' \
  -d "{\"product_code\":\"KC48\",\"count\":$COUNT}" "$URL/issuing/v1/batches")
t1=$(now)
ID=$(jq -r .id <<<"$BATCH")
PAGES=$(jq -r .pages <<<"$BATCH")
curl -fsS -H "$AUTH" -o "$WORK/cards.csv" "$URL/issuing/v1/batches/$ID/cards.csv"
t2=$(now)
seq 1 "$PAGES" | xargs -P "$PARALLEL" -I{} \
  curl -fsS -H "$AUTH" -o "$WORK/sheet-{}.svg" "$URL/issuing/v1/batches/$ID/sheet.svg?page={}"
t3=$(now)

LINES=$(($(wc -l <"$WORK/cards.csv") - 1))
SHEETS=$(ls "$WORK"/sheet-*.svg | wc -l)
QRS=$(cat "$WORK"/sheet-*.svg | grep -o '<path d=' | wc -l)
FIRST=$(jq -r .first_number <<<"$BATCH" | tr -d ' ')
VERSION=$(curl -fsS -D - -o /dev/null -H "$AUTH" "$URL/issuing/v1/cards/$FIRST/qr.png?size=300" \
  | tr -d '\r' | awk -F': ' 'tolower($1)=="x-qr-version" {print $2}')
PAYLOAD=$(sed -n 2p "$WORK/cards.csv" | cut -d, -f2)

f() { python3 -c "print(f'{$1:.2f}')"; }
echo
echo "card-issuing print batch: $COUNT cards"
echo "  issue batch (numbers, page codes, audit rows, events): $(f "$t1-$t0") s"
echo "  CSV with $LINES signed QR payloads:                    $(f "$t2-$t1") s"
echo "  $SHEETS A4 SVG sheets with $QRS QR codes ($PARALLEL parallel):     $(f "$t3-$t2") s"
echo "  total:                                                 $(f "$t3-$t0") s"
echo "  a real token: ${#PAYLOAD} characters, QR version $VERSION at error correction M"
[ "$LINES" -eq "$COUNT" ] && [ "$QRS" -eq "$COUNT" ] || { echo "incomplete output" >&2; exit 1; }
