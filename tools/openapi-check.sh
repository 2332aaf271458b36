#!/usr/bin/env bash
# Checks the served OpenAPI document and exercises the API with it:
#   1. starts `baton serve` on loopback (own ports, fresh SQLite store),
#   2. fetches /openapi.json and validates it with openapi-spec-validator,
#   3. runs schemathesis against every operation: no 5xx, every response's status, content type
#      and body as the document describes them,
#   4. stops Baton by PID.
# The Python tools live in a virtual environment made by tools/install-deps.sh --test
# (var/pyenv, from PyPI). Usage: tools/openapi-check.sh [path/to/baton] [max examples]
set -euo pipefail
cd "$(dirname "$0")/.."
BATON="${1:-.build/debug/baton}"
EXAMPLES="${2:-25}"
VENV="${BATON_PYENV:-var/pyenv}"
if [[ ! -x "$VENV/bin/schemathesis" || ! -x "$VENV/bin/openapi-spec-validator" ]]; then
  msg="openapi-check: schemathesis/openapi-spec-validator missing in $VENV (run tools/install-deps.sh --test)"
  if [[ "${CI:-}" == "true" ]]; then echo "FAIL: $msg" >&2; exit 1; fi
  echo "SKIPPED: $msg"; exit 0
fi
work="$(mktemp -d /tmp/baton-openapi-XXXXXX)"
HTTP=29040
"$BATON" serve --config /dev/null --sip-port 27030 --http-port "$HTTP" --ng-port 27035 \
  --media-port-min 27600 --media-port-max 27799 --store-path "$work/baton.sqlite" \
  --lifecycle-drain-timeout 2 --log-level warning > "$work/baton.log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$HTTP/healthz" >/dev/null && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/baton.log"; exit 1; }
  sleep 0.1
done
curl -sf "http://127.0.0.1:$HTTP/openapi.json" -o "$work/openapi.json"
"$VENV/bin/openapi-spec-validator" "$work/openapi.json"
# Bounded: a fixed number of examples per operation, a request timeout, and an outer limit.
timeout 600 "$VENV/bin/schemathesis" run "http://127.0.0.1:$HTTP/openapi.json" \
  --checks not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance --max-examples "$EXAMPLES" --workers 2 --request-timeout 5 \
  --seed 8 --no-color 2>&1 | tee "$work/schemathesis.log" | tail -40
status=${PIPESTATUS[0]}
if ! kill -0 "$pid" 2>/dev/null; then echo "openapi-check: baton died under schemathesis" >&2; cat "$work/baton.log"; exit 1; fi
if grep -q "status=500\|Server error" "$work/schemathesis.log"; then status=1; fi
exit "$status"
