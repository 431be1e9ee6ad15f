#!/usr/bin/env bash
# Builds Cunik's native helpers into build/bin/: cunik-shim (the parent of each VM process) and
# cunik-spawner (started once by cunikd; starts the shims so that the daemon never forks), and
# cunik-memhold (holds a VM template's sealed RAM, src/vmm/qemu/template.ts), and
# cunik-runc (the OCI runtime's front: state/start/kill/delete without node, docs/kubernetes.md),
# and cunik-passt-fixes.so (loaded into passt: src/vmm/shim/passt-fixes.c).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/bin
for pair in cunik-shim:src/vmm/shim/cunik-shim.c cunik-spawner:src/vmm/shim/cunik-spawner.c cunik-memhold:src/vmm/shim/cunik-memhold.c cunik-runc:src/runtime/runc-front.c; do
  name=${pair%%:*} src=${pair#*:} out=build/bin/$name
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
    # Static: no dynamic loader at each start, and the smallest resident size.
    gcc -O2 -Wall -Wextra -Werror -static -o "$out.tmp" "$src" 2>/dev/null || gcc -O2 -Wall -Wextra -Werror -o "$out.tmp" "$src"
    mv "$out.tmp" "$out"
    echo "build-native: $out"
  fi
done
# Loaded into passt (LD_PRELOAD): a shared object, so not static.
src=src/vmm/shim/passt-fixes.c out=build/bin/cunik-passt-fixes.so
if [ ! -f "$out" ] || [ "$src" -nt "$out" ]; then
  gcc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$out.tmp" "$src"
  mv "$out.tmp" "$out"
  echo "build-native: $out"
fi
