#!/usr/bin/env bash
# Builds cunik-init (src/build/linux/init.c), the PID 1 of linux-family images, into
# build/linux/init: a static binary, so the initramfs needs no libc for it.
# Rebuilds only when the source or this script is newer. Needs gcc and glibc's static libc
# (libc6-dev, which gcc pulls in on Debian).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
src=src/build/linux/init.c
out=build/linux/init
CC=${CC:-gcc}
if ! command -v "$CC" >/dev/null 2>&1; then
  echo "build-init: '$CC' not found; install gcc (apt-get install gcc)" >&2
  exit 1
fi
if [[ -f $out && ! $src -nt $out && ! ${BASH_SOURCE[0]} -nt $out ]]; then exit 0; fi
mkdir -p "$(dirname "$out")"
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
"$CC" -std=gnu11 -static -Os -s -Wall -Wextra -Werror -fno-asynchronous-unwind-tables -o "$tmp" "$src"
chmod 0755 "$tmp"
mv -f "$tmp" "$out"
echo "build-init: $out"
