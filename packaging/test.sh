#!/usr/bin/env bash
# The Debian package as a user meets it: built with `cargo deb`, installed with
# `dpkg -i`, checked (the postbode user, the modes of /etc/postbode and /var/lib/postbode,
# the unit through `systemd-analyze verify`), started as its systemd unit starts it (its
# user, working directory, umask and ExecStart, read from the installed unit), sent an
# event that reaches a receiver on 127.0.0.1, stopped with SIGTERM, and purged; then
# nothing of it may be left: package, user, group, directories. Whatever happens, the
# package and what it made are removed on the way out.
#
# Needs root and dpkg (CI runs as root); elsewhere it says why it skips, and under
# CI=true that is a failure. It refuses to run where a postbode package or user
# already exists. POSTBODE_PACKAGE_PROFILE=release packages a release build (made here
# if missing); the default, dev, packages the binary the tests built, which keeps CI
# from compiling everything a second time (cargo-deb warns that dev is not for releases).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'package test: %s\n' "$*"; }
fail() { say "FAILED: $*"; exit 1; }
skip() {
  if [ "${CI:-}" = "true" ]; then fail "$* (CI=true needs it)"; fi
  say "skipped: $*"
  exit 0
}

[ "$(id -u)" -eq 0 ] || skip "installing a package needs root"
command -v dpkg >/dev/null || skip "dpkg is not installed"
command -v cargo-deb >/dev/null || skip "cargo-deb is not installed (cargo install --locked cargo-deb)"
if dpkg -s postbode >/dev/null 2>&1 || getent passwd postbode >/dev/null; then
  fail "a postbode package or user exists already on this machine; not touching it"
fi

work=$(mktemp -d)
server=""
receiver=""
installed=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null || true
  [ -n "$receiver" ] && kill "$receiver" 2>/dev/null || true
  if [ -n "$installed" ]; then
    dpkg --purge postbode >/dev/null 2>&1 || true
    # What a failed purge may have left of what the package made.
    getent passwd postbode >/dev/null && userdel postbode 2>/dev/null || true
    getent group postbode >/dev/null && groupdel postbode 2>/dev/null || true
    rm -rf /var/lib/postbode /etc/postbode
  fi
  rm -rf "$work"
}
trap cleanup EXIT

profile=${POSTBODE_PACKAGE_PROFILE:-dev}
build=()
if [ "$profile" = "dev" ]; then build=(--no-build); fi
say "building the package (profile $profile)"
cargo deb -p postbode --profile "$profile" "${build[@]}" --fast -o "$work/" >"$work/cargo-deb.log" 2>&1 \
  || { cat "$work/cargo-deb.log"; fail "cargo deb"; }
deb=$(ls "$work"/postbode_*.deb)

say "installing $(basename "$deb")"
installed=yes
dpkg -i "$deb" >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg -i"; }

expect() { # what, expected, actual
  [ "$2" = "$3" ] || fail "$1: expected $2, found $3"
}
uid=$(id -u postbode) || fail "no postbode user"
[ "$uid" -lt 1000 ] || fail "postbode is not a system user (uid $uid)"
expect "postbode's shell" /usr/sbin/nologin "$(getent passwd postbode | cut -d: -f7)"
expect "/var/lib/postbode" "postbode:postbode 700" "$(stat -c '%U:%G %a' /var/lib/postbode)"
expect "/etc/postbode" "root:postbode 750" "$(stat -c '%U:%G %a' /etc/postbode)"
expect "/etc/postbode/postbode.toml" "root:postbode 640" "$(stat -c '%U:%G %a' /etc/postbode/postbode.toml)"
expect "the conffile" /etc/postbode/postbode.toml "$(dpkg-query -W -f='${Conffiles}' postbode | awk 'NF {print $1}')"
unit=/usr/lib/systemd/system/postbode.service
[ -f "$unit" ] || fail "no unit at $unit"

if command -v systemd-analyze >/dev/null; then
  say "systemd-analyze verify $unit"
  systemd-analyze verify "$unit" >"$work/verify.log" 2>&1 || { cat "$work/verify.log"; fail "systemd-analyze verify"; }
  # It exits 0 on warnings too; a warning about this unit's own lines is a failure.
  if grep -E "^$unit:|postbode.service:" "$work/verify.log"; then fail "systemd-analyze warns about the unit"; fi
  exposure=$(systemd-analyze security --offline=true "$unit" 2>/dev/null | grep -o 'Overall exposure level.*' || true)
  [ -n "$exposure" ] && say "systemd-analyze security: $exposure (0 is best, 10 worst)"
else
  say "no systemd-analyze here; the unit is not verified"
fi

# The unit's own lines, so the start below is the unit's, not a copy of it.
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -n 1; }
user=$(unit_value User)
directory=$(unit_value WorkingDirectory)
umask_value=$(unit_value UMask)
exec_start=$(unit_value ExecStart)
expect "the unit's user" postbode "$user"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port=$(free_port)
receiver_port=$(free_port)
url="http://127.0.0.1:$port"

# A receiver that keeps each body it is sent.
python3 - "$receiver_port" "$work/received" <<'PY' &
import http.server, sys
port, path = int(sys.argv[1]), sys.argv[2]
class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(path, "ab") as out:
            out.write(body + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
PY
receiver=$!

say "starting it as the unit does: $exec_start (user $user, in $directory)"
# As `systemctl edit postbode` would add them: a free port, and a receiver on this
# machine without an ownership file.
(
  cd "$directory"
  umask "$umask_value"
  exec setpriv --reuid="$user" --regid="$user" --init-groups env \
    POSTBODE_LISTEN="127.0.0.1:$port" \
    POSTBODE_DELIVERY__ALLOW_PRIVATE_TARGETS=true \
    POSTBODE_WEBHOOKS__REQUIRE_VERIFICATION=false \
    $exec_start
) >"$work/stdout" 2>"$work/stderr" &
server=$!

waited=0
until curl -fsS "$url/health" >/dev/null 2>&1; do
  kill -0 "$server" 2>/dev/null || { cat "$work/stderr"; fail "the service exited"; }
  waited=$((waited + 1))
  [ "$waited" -lt 600 ] || { cat "$work/stderr"; fail "the service never answered /health"; }
  sleep 0.1
done

token=$(sed -n 's/^Operator token.*: //p' "$work/stdout")
[ -n "$token" ] || fail "the first start printed no operator token"
expect "the saved operator token" "$token" "$(cat /var/lib/postbode/admin-token)"
expect "admin-token" "postbode 600" "$(stat -c '%U %a' /var/lib/postbode/admin-token)"
expect "master-key" "postbode 600" "$(stat -c '%U %a' /var/lib/postbode/master-key)"
expect "the database's owner" postbode "$(stat -c '%U' /var/lib/postbode/postbode.db)"

json() { python3 -c "import json, sys; print(json.load(sys.stdin)$1)"; }
post() { # path, token, body
  curl -fsS "$url$1" -H "Authorization: Bearer $2" -H 'Content-Type: application/json' -d "$3"
}
key=$(post /v1/accounts "$token" '{"name": "Package test"}' | json '["api_key"]')
post /v1/webhooks "$key" "{\"url\": \"http://127.0.0.1:$receiver_port/hook\"}" >/dev/null
event=$(post /v1/events "$key" '{"type": "package.installed", "data": {"ok": true}}' | json '["id"]')
say "sent $event"

waited=0
until grep -q "$event" "$work/received" 2>/dev/null; do
  waited=$((waited + 1))
  [ "$waited" -lt 600 ] || { cat "$work/stderr"; fail "the event never reached the receiver"; }
  sleep 0.1
done
say "the receiver got $event"

kill -TERM "$server"
status=0
wait "$server" || status=$?
server=""
expect "the exit status after SIGTERM" 0 "$status"

say "purging the package"
dpkg --purge postbode >"$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log"; fail "dpkg --purge"; }
installed=""
dpkg -s postbode >/dev/null 2>&1 && fail "the package is still installed"
getent passwd postbode >/dev/null && fail "the postbode user is left"
getent group postbode >/dev/null && fail "the postbode group is left"
for left in /var/lib/postbode /etc/postbode /usr/bin/postbode "$unit"; do
  [ -e "$left" ] && fail "$left is left"
done
say "ok: installed, served an event as its unit, purged without a trace"
