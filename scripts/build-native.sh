#!/usr/bin/env bash
# Builds Cunik's native helpers into build/bin/: cunik-shim (the parent of each VM process).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bin
src=src/vmm/shim/cunik-shim.c out=build/bin/cunik-shim
if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
  # Static: no dynamic loader at each VM start, and the smallest resident size.
  gcc -O2 -Wall -Wextra -Werror -static -o "$out.tmp" "$src" 2>/dev/null || gcc -O2 -Wall -Wextra -Werror -o "$out.tmp" "$src"
  mv "$out.tmp" "$out"
  echo "build-native: $out"
fi
