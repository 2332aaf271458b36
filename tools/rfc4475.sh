#!/usr/bin/env bash
# Extracts RFC 4475's message archive (Appendix A) into var/rfc4475/*.dat, which
# RFC4475Tests then sends instead of its written-out messages.
#   tools/rfc4475.sh path/to/rfc4475.txt
# The archive is base64 between the second "-- BEGIN MESSAGE ARCHIVE --" / "-- END MESSAGE
# ARCHIVE --" pair (the first pair is inside the RFC's own decoder script); of the lines
# between them, those that are one whitespace-free token are base64, the page furniture is not.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] && [ -f "$1" ] || { echo "usage: tools/rfc4475.sh RFC4475.TXT" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
awk '/-- BEGIN MESSAGE ARCHIVE --/{n++} n==2' "$1" | awk '/-- END MESSAGE ARCHIVE --/{exit} {print}' \
    | grep -E '^[[:space:]]*[^[:space:]]+[[:space:]]*$' | grep -v 'MESSAGE ARCHIVE' | tr -d ' \t' > "$work/archive.b64"
base64 -d "$work/archive.b64" > "$work/archive.tgz"
mkdir -p "$work/out" var/rfc4475
tar xzf "$work/archive.tgz" -C "$work/out"
find "$work/out" -name '*.dat' -exec cp {} var/rfc4475/ \;
echo "tools/rfc4475.sh: $(ls var/rfc4475/*.dat | wc -l) messages in var/rfc4475/"
