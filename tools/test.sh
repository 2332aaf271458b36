#!/usr/bin/env bash
# Installs what is missing (build libraries and the interop peers: sipp, baresip, tcpdump)
# and runs the whole suite: unit tests and interop tests against the real peers.
# Under CI=true a missing peer fails its test; elsewhere it is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh --test
swift build --build-tests
# Interop tests start real processes on fixed loopback ports: run the suites one at a time.
exec timeout 2400 swift test --skip-build --no-parallel "$@"
