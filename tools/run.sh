#!/usr/bin/env bash
# Installs what is missing, builds Baton (release), and runs `baton serve` with the
# loopback defaults (SIP 127.0.0.1:5060 UDP+TCP, RTP 20000-29999, HTTP 127.0.0.1:8080,
# SQLite under var/). Extra arguments go to `baton serve` (see docs/configuration.md).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
swift build -c release --product baton
mkdir -p var
exec .build/release/baton serve "$@"
