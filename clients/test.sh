#!/usr/bin/env bash
# Runs the client libraries' test suites (clients/python, typescript, php, go), each with
# its own runner, against one real `postbode serve` started here on a temporary data
# directory, with a DNS server on 127.0.0.1 that publishes the service's signing keys.
# Also checks that clients/openapi.json is the document the service serves (and valid),
# that the generated TypeScript types are what the generator makes of it, and that every
# manifest carries the workspace's version.
#
#   bash clients/test.sh                 # every suite
#   bash clients/test.sh python go       # some of them
#
# A missing toolchain skips its suite with a message; under CI=true it fails.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(python typescript php go)
binary=${POSTBODE_BINARY:-$root/target/debug/postbode}
[ -x "$binary" ] || cargo build -p postbode

work=$(mktemp -d)
server=""
dns=""
cleanup() {
  [ -z "$server" ] || { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
  [ -z "$dns" ] || { kill "$dns" 2>/dev/null || true; wait "$dns" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

# The DNS server first: the service resolves through it too (domain validation).
echo '{}' >"$work/dns.json"
python3 clients/testing/dns_server.py "$work/dns.json" "$work/dns.port" &
dns=$!
for _ in $(seq 100); do [ -s "$work/dns.port" ] && break; sleep 0.05; done
dns_port=$(cat "$work/dns.port")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
export POSTBODE_TEST_URL="http://127.0.0.1:$port"
# The service refuses an operator token shorter than 32 characters.
export POSTBODE_TEST_ADMIN_TOKEN="clients-operator-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export POSTBODE_TEST_KEY_DOMAIN="webhooks.postbode.test"
export POSTBODE_TEST_DNS="127.0.0.1:$dns_port"
export POSTBODE_TEST_DNS_RECORDS="$work/dns.json"
# Retries wait an hour, so a failed delivery is tried again only when a test resends or
# recovers it.
POSTBODE_ADMIN_TOKEN="$POSTBODE_TEST_ADMIN_TOKEN" \
POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS=true \
POSTBODE_DELIVERY__RETRY__SCHEDULE='["1h", "1h", "1h"]' \
POSTBODE_WEBHOOKS__REQUIRE_VERIFICATION=false \
POSTBODE_SIGNATURE__KEY_DOMAIN="$POSTBODE_TEST_KEY_DOMAIN" \
POSTBODE_DNS__NAMESERVERS="[\"127.0.0.1:$dns_port\"]" \
POSTBODE_LOG=warn \
  "$binary" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >/dev/null 2>"$work/server.log" &
server=$!

# Waits for the service, saves its document, and publishes its keys in the DNS server.
python3 - "$work" <<'PY'
import json, os, sys, time, urllib.request
work, url, token = sys.argv[1], os.environ["POSTBODE_TEST_URL"], os.environ["POSTBODE_TEST_ADMIN_TOKEN"]
for _ in range(600):
    try:
        urllib.request.urlopen(url + "/health", timeout=1)
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.stderr.write(open(os.path.join(work, "server.log")).read())
    sys.exit("the service did not start: its log is above")
with open(os.path.join(work, "openapi.json"), "wb") as f:
    f.write(urllib.request.urlopen(url + "/openapi.json").read())
keys = json.load(urllib.request.urlopen(urllib.request.Request(
    url + "/v1/signing-keys", headers={"Authorization": "Bearer " + token})))
text = lambda t: [t[i:i + 255] for i in range(0, len(t), 255)]
records = {k["dns"]["name"]: text(k["dns"]["text"]) for k in keys["data"]}
with open(os.environ["POSTBODE_TEST_DNS_RECORDS"] + ".tmp", "w") as f:
    json.dump(records, f)
os.replace(os.environ["POSTBODE_TEST_DNS_RECORDS"] + ".tmp", os.environ["POSTBODE_TEST_DNS_RECORDS"])
PY

failed=()
skipped=()
missing() {
  if [ "${CI:-}" = "true" ]; then
    echo "clients: $1 is required in CI" >&2
    failed+=("$2")
  else
    echo "clients: skipping the $2 suite: $1 is not installed"
    skipped+=("$2")
  fi
}
run() {
  local name=$1 started=$SECONDS; shift
  printf '\n== clients/%s\n' "$name"
  if ! "$@"; then failed+=("$name"); fi
  echo "(clients/$name took $((SECONDS - started)) s)"
}

printf '\n== clients: the OpenAPI document\n'
if ! python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
    clients/openapi.json "$work/openapi.json"; then
  echo "clients/openapi.json is not what the service serves: run bash clients/generate.sh" >&2
  failed+=("openapi.json")
fi
if python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  python3 -m openapi_spec_validator "$work/openapi.json" || failed+=("openapi-spec-validator")
else
  missing "openapi-spec-validator (python3 -m pip install openapi-spec-validator)" openapi-spec-validator
fi
python3 clients/versions.py --check || failed+=("versions")

for suite in "${suites[@]}"; do
  case "$suite" in
    python)
      if python3 -c 'import pytest, cryptography, dns' 2>/dev/null; then
        run python env PYTHONPATH="$root/clients/python/src" python3 -m pytest -q -p no:cacheprovider clients/python/tests
      else missing "pytest, cryptography or dnspython (python3 -m pip install pytest cryptography dnspython)" python; fi ;;
    typescript)
      if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
        run typescript bash -c 'cd clients/typescript && npm ci --no-audit --no-fund --loglevel=error \
          && npx --no-install openapi-typescript ../openapi.json -o "$0/schema.ts" >/dev/null \
          && { cmp -s "$0/schema.ts" src/schema.ts || { echo "src/schema.ts is not what openapi-typescript makes of ../openapi.json: run bash clients/generate.sh" >&2; exit 1; }; } \
          && npm run --silent build && npm test --silent' "$work"
      else missing "node and npm" typescript; fi ;;
    php)
      if command -v php >/dev/null 2>&1 && command -v phpunit >/dev/null 2>&1; then
        run php phpunit --configuration clients/php/phpunit.xml.dist
      else missing "php and phpunit (apt-get install php-cli php-curl phpunit)" php; fi ;;
    go)
      if command -v go >/dev/null 2>&1; then
        run go bash -c 'cd clients/go && test -z "$(gofmt -l .)" || { gofmt -l . >&2; echo "not gofmt-formatted" >&2; exit 1; }; go vet ./... && go test -count=1 ./...'
      else missing "go (apt-get install golang-go)" go; fi ;;
    *) echo "clients: no suite named $suite" >&2; failed+=("$suite") ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo; echo "== clients: failed: ${failed[*]}" >&2
  echo "== the service's log"; tail -n 40 "$work/server.log"
  exit 1
fi
echo; echo "== clients: every suite passed${skipped:+ (skipped: ${skipped[*]})}"
