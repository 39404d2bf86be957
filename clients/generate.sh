#!/usr/bin/env bash
# Writes what the client libraries generate from the service: clients/openapi.json (the
# document `postbode serve` answers at /openapi.json) and, from it, the TypeScript
# types (clients/typescript/src/schema.ts, by openapi-typescript from npm). Run it after
# changing an API route or type; clients/test.sh fails while they are out of date.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -p postbode
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
POSTBODE_LOG=warn target/debug/postbode serve --listen "127.0.0.1:$port" --data-dir "$work" >/dev/null 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "http://127.0.0.1:$port/openapi.json" clients/openapi.json <<'PY'
import json, sys, time, urllib.request
for _ in range(600):
    try:
        document = json.load(urllib.request.urlopen(sys.argv[1], timeout=1))
        break
    except OSError:
        time.sleep(0.05)
else:
    sys.exit("the service did not start")
with open(sys.argv[2], "w", encoding="utf-8") as f:
    json.dump(document, f, indent=2, ensure_ascii=False)
    f.write("\n")
PY
cd clients/typescript
npm ci --no-audit --no-fund --loglevel=error
npx --no-install openapi-typescript ../openapi.json -o src/schema.ts
echo "clients: wrote clients/openapi.json and clients/typescript/src/schema.ts"
