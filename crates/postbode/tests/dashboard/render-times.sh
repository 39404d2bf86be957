#!/usr/bin/env bash
# How long the dashboard's pages take for a large account: 1 000 webhooks and 1 000 000
# deliveries with one attempt each (250 000 events; one webhook gets every event, the
# others share the rest), on SQLite with the release binary. It starts `postbode serve`
# on 127.0.0.1, creates the webhooks through the API, writes the log straight into the
# database file (the API would take minutes), signs in, then asks for each page 20 times
# and prints the median and the slowest time curl measured (connection and transfer on
# 127.0.0.1 included). A measurement, not a test: it asserts nothing.
#
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
sqlite3 "$dir/postbode.db" <<SQL
.timeout 10000
BEGIN;
CREATE TEMP TABLE hooks AS SELECT row_number() OVER (ORDER BY id) - 1 AS k, id FROM webhooks WHERE account_id = '$account';
CREATE INDEX temp.hooks_k ON hooks(k);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 249999)
INSERT INTO events (id, account_id, type, body, created_at)
SELECT printf('evt_0%025d', i), '$account', CASE WHEN i % 5 = 0 THEN 'order.refunded' ELSE 'order.paid' END,
       '{"id":"' || printf('evt_0%025d', i) || '","type":"order.paid","data":{"order":' || i || '}}',
       $t0 + i * 1000
FROM n;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 249999),
     slot(j) AS (VALUES (0), (1), (2), (3))
INSERT INTO deliveries (id, account_id, event_id, webhook_id, status, attempts, next_attempt_at, last_status_code,
                        created_at, delivered_at)
SELECT printf('dlv_0%025d', i * 4 + j), '$account', printf('evt_0%025d', i),
       (SELECT id FROM hooks WHERE k = CASE WHEN j = 0 THEN 0 ELSE 1 + (i * 3 + j) % 999 END),
       CASE WHEN i % 100 = 7 THEN 'pending' WHEN i % 50 = 3 THEN 'failed' ELSE 'delivered' END,
       1, CASE WHEN i % 100 = 7 THEN $now + 86400000 END,
       CASE WHEN i % 100 = 7 OR i % 50 = 3 THEN 500 ELSE 200 END,
       $t0 + i * 1000, CASE WHEN i % 100 = 7 OR i % 50 = 3 THEN NULL ELSE $t0 + i * 1000 + 40 END
FROM n, slot;
INSERT INTO attempts (id, account_id, delivery_id, webhook_id, event_id, number, trigger, started_at, duration_ms,
                      status_code, response_body)
SELECT 'att_' || substr(id, 5), account_id, id, webhook_id, event_id, 1, 'scheduled', created_at + 20, 12,
       last_status_code, 'ok'
FROM deliveries WHERE account_id = '$account';
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
INSERT INTO idempotency_keys (account_id, key, request_hash, event_id, deliveries, expires_at)
SELECT '$account', 'order-' || (i * 250), X'00', printf('evt_0%025d', i * 250), 4, $now + 86400000 FROM n;
COMMIT;
ANALYZE;
SQL
heavy=$(sqlite3 "$dir/postbode.db" "SELECT id FROM webhooks WHERE account_id = '$account' ORDER BY id LIMIT 1")
light=$(sqlite3 "$dir/postbode.db" "SELECT id FROM webhooks WHERE account_id = '$account' ORDER BY id LIMIT 1 OFFSET 500")
older=$(printf 'dlv_0%025d' 600000)

jar="$dir/cookies"
page=$(curl -s -c "$jar" "$base/ui/sign-in")
csrf=$(printf '%s' "$page" | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -n 1)
curl -s -o /dev/null -b "$jar" -c "$jar" "$base/ui/sign-in" --data-urlencode "csrf=$csrf" --data-urlencode "key=$key"

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
time_page "a webhook with 750 deliveries: log" "/ui/webhooks/$light/log"
time_page "a delivery" "/ui/deliveries/dlv_0$(printf '%025d' 493824)"
time_page "its statistics" "/ui/webhooks/$heavy/stats"
time_page "account statistics" "/ui/stats"
