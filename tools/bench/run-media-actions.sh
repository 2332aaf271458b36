#!/usr/bin/env bash
# One command: what each forwarding action costs per packet (plain, SRTP, transcoding), plus
# what libsrtp2 alone costs on this machine. Installs what is missing, builds release.
# Arguments go to baton-media-actions-bench (e.g. --packets 50000 --streams 200 --opus-complexity 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/install-deps.sh
swift build -c release --product baton-media-actions-bench
mkdir -p tools/bench/out
gcc -O2 -o tools/bench/out/srtp_probe tools/bench/srtp_probe.c $(pkg-config --cflags --libs libsrtp2)
tools/bench/out/srtp_probe
exec .build/release/baton-media-actions-bench "$@"
