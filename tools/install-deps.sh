#!/usr/bin/env bash
# Installs the Debian packages Baton needs to build (C libraries behind the shims)
# and, with --test, the real peers the interop tests drive (sipp, baresip, kamailio, tcpdump,
# secsipidx, postgresql (a private cluster per test, tools/pg-cluster.sh), python3 for a file server, chromium + chromedriver for the agent desktop, espeak-ng and flite
# (a caller who speaks; the keyword-spotting figures), scikit-learn for the
# transfer model's cross-check) and the
# OpenAPI checkers (schemathesis, openapi-spec-validator: PyPI, in the venv var/pyenv).
# Idempotent: installs only what is missing. Must run as root (or with sudo).
set -euo pipefail

BUILD_PKGS=(pkg-config libosip2-dev libsrtp2-dev libopus-dev libortp-dev libsqlite3-dev libpocketsphinx-dev pocketsphinx-en-us
            libspandsp-dev)
TEST_PKGS=(sip-tester baresip-core kamailio tcpdump curl procps iproute2 secsipidx python3 python3-cryptography python3-matplotlib
           python3-venv chromium chromium-driver python3-sklearn python3-scipy espeak-ng flite postgresql)
# PyPI tools for tools/openapi-check.sh, pinned.
PY_TOOLS=(schemathesis==4.32.5 openapi-spec-validator==0.9.0)

want=("${BUILD_PKGS[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "install-deps: all present (${want[*]})"
fi

if [[ "${1:-}" == "--test" ]]; then
  cd "$(dirname "$0")/.."
  VENV="${BATON_PYENV:-var/pyenv}"
  if [[ ! -x "$VENV/bin/schemathesis" || ! -x "$VENV/bin/openapi-spec-validator" ]]; then
    echo "install-deps: installing ${PY_TOOLS[*]} into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${PY_TOOLS[@]}"
  else
    echo "install-deps: $VENV has schemathesis and openapi-spec-validator"
  fi
fi
