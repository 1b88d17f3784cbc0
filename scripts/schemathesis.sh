#!/usr/bin/env bash
# Contract test of the HTTP API: schemathesis (pinned, from PyPI) generates requests
# from /openapi.json and checks every answer against the document: no server error,
# no undocumented status code, no response that violates its schema.
#
#   scripts/schemathesis.sh                  # builds and starts its own instance
#   TRADEHOOK_URL=http://127.0.0.1:8080 AUDIT_TOKEN=… ADMIN_TOKEN=… scripts/schemathesis.sh
#
# MAX_EXAMPLES (default 30) sets how many examples per operation and phase.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=4.32.5
VENV=${SCHEMATHESIS_VENV:-target/schemathesis-venv}
MAX_EXAMPLES=${MAX_EXAMPLES:-30}
CHECKS=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance

if [ ! -x "$VENV/bin/schemathesis" ] || ! "$VENV/bin/schemathesis" --version | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ -z "${TRADEHOOK_URL:-}" ]; then
  cargo build --quiet --locked --bin tradehook
  work=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  AUDIT_TOKEN=schemathesis-audit-token-0123
  ADMIN_TOKEN=schemathesis-admin-token-0123
  cat >"$work/tradehook.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
audit_token = "$AUDIT_TOKEN"
admin_token = "$ADMIN_TOKEN"
rate_limit_per_minute = 0

[database]
url = "sqlite://$work/tradehook.db"

[exchange]
paper_market_data = false

[[sources]]
name = "demo"
auth = "hmac"
secret = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD"

[risk]
allowed_pairs = ["XBTUSD", "ETHUSD"]
TOML
  "${CARGO_TARGET_DIR:-target}/debug/tradehook" --config "$work/tradehook.toml" serve 2>"$work/tradehook.log" &
  server=$!
  trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
  TRADEHOOK_URL="http://127.0.0.1:$port"
  for _ in $(seq 100); do
    curl -fsS "$TRADEHOOK_URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
fi

run() {
  "$VENV/bin/schemathesis" run "$TRADEHOOK_URL/openapi.json" \
    --checks "$CHECKS" --max-examples "$MAX_EXAMPLES" --seed 1 "$@"
}

echo "== schemathesis $SCHEMATHESIS_VERSION: everything but admin, with the audit token"
# Operations behind the admin token: /v1/admin/*, cancel and redeliver.
ADMIN_PATHS='^/v1/admin|/cancel$|/redeliver$'
run --exclude-path-regex "$ADMIN_PATHS" -H "Authorization: Bearer $AUDIT_TOKEN"
echo "== schemathesis $SCHEMATHESIS_VERSION: admin, with the admin token"
run --include-path-regex "$ADMIN_PATHS" -H "Authorization: Bearer $ADMIN_TOKEN"
