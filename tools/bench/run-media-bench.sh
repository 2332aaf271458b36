#!/usr/bin/env bash
# One command: installs rtpengine (Debian rtpengine-daemon, run userspace-only) and what
# Baton needs, builds Baton (release) and the C tools, then runs the media benchmark ladder.
# Arguments go to media_bench.py (e.g. --calls 100,1000 --seconds 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
tools/install-deps.sh
if ! command -v rtpengine >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rtpengine-daemon util-linux
fi
# The Debian package starts a system rtpengine on install; the benchmark runs its own.
systemctl stop rtpengine-daemon 2>/dev/null || true
swift build -c release --product baton
mkdir -p tools/bench/out
gcc -O2 -o tools/bench/out/rtpgen tools/bench/rtpgen.c
gcc -O2 -o tools/bench/out/floor tools/bench/floor.c
exec python3 tools/bench/media_bench.py "$@"
