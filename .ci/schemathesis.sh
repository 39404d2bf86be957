#!/usr/bin/env bash
# Runs Schemathesis against the built binary for every operation of /openapi.json:
# no 5xx, and every answer (status, content type, body) as the document says. The
# server allows private targets and does not require verification, so calls work.
set -euo pipefail
cd "$(dirname "$0")/.."

binary=target/debug/postbode
[ -x "$binary" ] || cargo build -p postbode
data=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export POSTBODE_ADMIN_TOKEN="schemathesis-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
# Schemathesis sends wrong tokens on purpose; throttling them would turn its later
# requests into 429s and check nothing.
POSTBODE_SERVER__AUTH_FAILURES__PER_ADDRESS=1000000000 \
POSTBODE_SERVER__AUTH_FAILURES__PER_KEY=1000000000 \
POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS=true \
POSTBODE_WEBHOOKS__REQUIRE_VERIFICATION=false \
POSTBODE_DNS__NAMESERVERS='["127.0.0.1:9"]' \
POSTBODE_LOG=warn \
  "$binary" serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null 2>"$data/server.log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$data"' EXIT
url="http://127.0.0.1:$port"
# Waits for the server, then makes the account whose key the account operations use.
export POSTBODE_TEST_ACCOUNT_KEY=$(python3 - "$url" <<'PY'
import json, os, sys, time, urllib.request
url = sys.argv[1]
for _ in range(300):
    try:
        urllib.request.urlopen(url + "/health", timeout=1)
        break
    except OSError:
        time.sleep(0.1)
request = urllib.request.Request(
    url + "/v1/accounts",
    data=json.dumps({"name": "schemathesis"}).encode(),
    headers={"Authorization": "Bearer " + os.environ["POSTBODE_ADMIN_TOKEN"], "Content-Type": "application/json"},
)
print(json.load(urllib.request.urlopen(request))["api_key"])
PY
)

status=0
# One worker: with two, Schemathesis (on this Python) once crashed in its own code
# generation ("AST constructor recursion depth mismatch"), failing a run whose checks
# all passed.
schemathesis --config-file .ci/schemathesis.toml run "$url/openapi.json" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-25}" --workers 1 --no-color || status=$?
if [ "$status" -ne 0 ]; then
  echo "== server log"; tail -n 50 "$data/server.log"
fi
exit "$status"
