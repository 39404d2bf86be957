#!/usr/bin/env bash
# How long the dashboard's pages take for a large account: 1 000 webhooks and 1 000 000
# deliveries with one attempt each (250 000 events; one webhook gets every event, the
# others share the rest), on SQLite with the release binary. It starts `postbode serve`
# on 127.0.0.1, creates the webhooks through the API, writes the log straight into the
# database file (the API would take minutes), signs in, then asks for each page 20 times
# and prints the median and the slowest time curl measured (connection and transfer on
# 127.0.0.1 included). A measurement, not a test: it asserts nothing.
#
#   pip install pysqlite3-binary
#   cargo build --release -p postbode && bash crates/postbode/tests/dashboard/render-times.sh
set -euo pipefail
cd "$(dirname "$0")/../../../.."
bin=${POSTBODE_BIN:-target/release/postbode}
dir=$(mktemp -d)
port=${PORT:-18431}
base="http://127.0.0.1:$port"
token=render-times-operator-token-long-enough
trap 'kill "$server" 2>/dev/null || true; rm -rf "$dir"' EXIT

POSTBODE_ADMIN_TOKEN=$token POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS=true \
POSTBODE_WEBHOOKS__REQUIRE_VERIFICATION=false POSTBODE_SIGNATURE__KEY_DOMAIN=keys.example.com \
  "$bin" serve --listen "127.0.0.1:$port" --data-dir "$dir" >"$dir/serve.log" 2>&1 &
server=$!
until curl -sf "$base/health" >/dev/null; do sleep 0.2; done

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
key=$(curl -s "$base/v1/accounts" -H "Authorization: Bearer $token" -H 'content-type: application/json' \
        -d '{"name": "Large"}' | json '["api_key"]')
account=$(curl -s "$base/v1/account" -H "Authorization: Bearer $key" | json '["id"]')
echo "creating 1000 webhooks"
for n in $(seq 1 1000); do
  curl -s -o /dev/null "$base/v1/webhooks" -H "Authorization: Bearer $key" -H 'content-type: application/json' \
    -d "{\"url\": \"http://127.0.0.1:9/hook/$n\", \"events\": [\"order.paid\", \"order.refunded\"]}"
done

echo "writing 250000 events, 1000000 deliveries and 1000000 attempts"
now=$(($(date +%s) * 1000))
t0=$((now - 250000 * 1000))
# Python's own sqlite3 may be older than the FTS5 options of the events' full-text
# index (contentless_delete needs 3.43); pysqlite3-binary (PyPI) bundles a recent one.
python3 - "$dir/postbode.db" "$account" "$t0" "$now" <<'PY'
import sys
from pysqlite3 import dbapi2 as sqlite3
path, account, t0, now = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
KINDS = {"wh": 1, "evt": 2, "dlv": 3, "att": 4}

def key(kind, n):
    """The stored key of the id `<kind>_0<n in 25 digits>` (store/src/keys.rs)."""
    value = 0
    for digit in "0%025d" % n:
        value = value * 32 + ALPHABET.index(digit)
    return bytes([KINDS[kind]]) + value.to_bytes(16, "big")

db = sqlite3.connect(path, timeout=10)
db.create_function("k", 2, key, deterministic=True)
hooks = [row[0] for row in db.execute("SELECT id FROM webhooks WHERE account_id = ? ORDER BY id", (account,))]
db.execute("BEGIN")
db.executemany(
    "INSERT INTO events (id, account_id, type, body, created_at) VALUES (k('evt', ?), ?, ?, ?, ?)",
    ((i, account, "order.refunded" if i % 5 == 0 else "order.paid",
      ('{"order":%d,"customer":"customer %d","city":"city %d"}' % (i, i % 20000, i % 500)).encode(), t0 + i * 1000)
     for i in range(250000)))
def deliveries():
    for i in range(250000):
        pending, failed = i % 100 == 7, i % 50 == 3
        for j in range(4):
            hook = hooks[0] if j == 0 else hooks[1 + (i * 3 + j) % 999]
            yield (i * 4 + j, i, hook, "pending" if pending else "failed" if failed else "delivered",
                   now + 86400000 if pending else None, 500 if pending or failed else 200,
                   t0 + i * 1000, None if pending or failed else t0 + i * 1000 + 40)
db.executemany(
    "INSERT INTO deliveries (id, event_id, webhook_id, status, attempts, next_attempt_at, last_status_code, "
    "created_at, delivered_at) VALUES (k('dlv', ?), k('evt', ?), ?, ?, 1, ?, ?, ?, ?)", deliveries())
db.execute(
    "INSERT INTO attempts (id, delivery_id, webhook_id, number, trigger, started_at, duration_ms, status_code, "
    "response_body) SELECT CAST(X'04' || substr(id, 2) AS BLOB), id, webhook_id, 1, 'scheduled', created_at + 20, 12, "
    "last_status_code, 'ok' FROM deliveries")
db.executemany(
    "INSERT INTO idempotency_keys (account_id, key, request_hash, event_id, deliveries, expires_at) "
    "VALUES (?, ?, X'00', k('evt', ?), 4, ?)", ((account, "order-%d" % (i * 250), i * 250, now + 86400000) for i in range(1000)))
db.commit()
db.execute("ANALYZE")
db.close()

def webhook_id(stored):
    value = int.from_bytes(stored[1:], "big")
    return "wh_" + "".join(ALPHABET[(value >> (5 * (25 - i))) & 31] for i in range(26))

# The webhook that gets every event, and one of those sharing the rest.
with open(path + ".hooks", "w") as out:
    out.write("%s %s\n" % (webhook_id(hooks[0]), webhook_id(hooks[500])))
PY
read -r heavy light <"$dir/postbode.db.hooks"
older=$(printf 'dlv_0%025d' 600000)

jar="$dir/cookies"
page=$(curl -s -c "$jar" "$base/ui/sign-in")
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
curl -s -o /dev/null -b "$jar" -c "$jar" "$base/ui/sign-in" --data-urlencode "csrf=$csrf" --data-urlencode "key=$key"

# The pages show what was written (a page that failed would be timed as fast).
shows() {
  curl -s -b "$jar" "$base$1" | grep -q "$2" || { echo "$1 does not show $2:" >&2; curl -s -b "$jar" "$base$1" | sed -n "/<main/,/<\/main>/p" | head -c 3000 >&2; tail -5 "$dir/serve.log" >&2; exit 1; }
}
shows "/ui/webhooks/$heavy/log" "dlv_0"
shows "/ui/webhooks/$heavy/log?q=customer+4711" "dlv_0"
shows "/ui/webhooks/$light/log" "dlv_0"

time_page() {
  local name=$1 path=$2 times
  curl -s -o /dev/null -b "$jar" "$base$path"
  times=$(for _ in $(seq 1 20); do curl -s -o /dev/null -b "$jar" -w '%{time_total}\n' "$base$path"; done | sort -n)
  printf '%-40s median %5.1f ms   slowest %5.1f ms\n' "$name" \
    "$(echo "$times" | sed -n 10p | awk '{print $1 * 1000}')" "$(echo "$times" | tail -n 1 | awk '{print $1 * 1000}')"
}
echo
time_page "webhooks (1000, 50 a page)" "/ui/webhooks"
time_page "webhook with 250000 deliveries" "/ui/webhooks/$heavy"
time_page "its log" "/ui/webhooks/$heavy/log"
time_page "its log, older page" "/ui/webhooks/$heavy/log?cursor=$older"
time_page "its log, failed" "/ui/webhooks/$heavy/log?status=failed"
time_page "its log, pending order.refunded" "/ui/webhooks/$heavy/log?status=pending&event_type=order.refunded"
time_page "its log, no match (skipped)" "/ui/webhooks/$heavy/log?status=skipped"
time_page "its log, last day" "/ui/webhooks/$heavy/log?since=$(date -u -d '-1 day' +%Y-%m-%dT%H:%M)"
time_page "its log, search by event id" "/ui/webhooks/$heavy/log?q=evt_0$(printf '%025d' 123456)"
time_page "its log, search by delivery id" "/ui/webhooks/$heavy/log?q=dlv_0$(printf '%025d' 493824)"
time_page "its log, search by idempotency key" "/ui/webhooks/$heavy/log?q=order-123500"
time_page "its log, search by words (1 in 20000)" "/ui/webhooks/$heavy/log?q=customer+4711"
time_page "its log, search by a word (1 in 500)" "/ui/webhooks/$heavy/log?q=city+42"
time_page "its log, search by a word in every event" "/ui/webhooks/$heavy/log?q=customer"
time_page "a webhook with 750 deliveries: log" "/ui/webhooks/$light/log"
time_page "a delivery" "/ui/deliveries/dlv_0$(printf '%025d' 493824)"
time_page "its statistics" "/ui/webhooks/$heavy/stats"
time_page "account statistics" "/ui/stats"
