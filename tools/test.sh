#!/usr/bin/env bash
# Installs what is missing (build libraries, the interop peers, the OpenAPI checkers) and runs
# the whole suite: unit tests, interop tests against the real peers, and the OpenAPI check
# (schemathesis against a running `baton serve`).
# Under CI=true a missing peer fails its test; elsewhere it is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --test
swift build --build-tests
# Interop tests start real processes on fixed loopback ports: run the suites one at a time.
timeout 2400 swift test --skip-build --no-parallel "$@"
# The OpenAPI document, validated and exercised against a live server (skipped with a filter).
if [[ $# -eq 0 ]]; then tools/openapi-check.sh "$(swift build --show-bin-path)/baton" 25; fi
# Every fuzz target for a short, bounded run under libFuzzer and AddressSanitizer (the
# committed corpus and regressions already replayed in FuzzTests); docs/testing.md, "Fuzzing".
if [[ $# -eq 0 && "${BATON_SKIP_FUZZ:-0}" != 1 ]]; then tools/fuzz.sh --time 20; fi
