#!/usr/bin/env bash
# Makes the CLI start fast (every command pays for it):
# - dist/cunik.mjs: the CLI bundled into one minified module (one file to load instead of dozens);
# - dist/cunik.blob: a V8 startup snapshot of it (`node --build-snapshot`), which bin/cunik runs
#   with `node --snapshot-blob`: the CLI is then already loaded when node starts.
# The snapshot is tied to the node binary that built it: `npm run build` again after upgrading Node
# (bin/cunik falls back to the bundle when there is no snapshot).
# bundle-cli.sh [OUT]: OUT is the build folder (default dist; scripts/build.sh gives a new one).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
esbuild=(npx --no-install esbuild --bundle --platform=node --target=node20 --minify --log-level=warning)
"${esbuild[@]}" "$out/src/cli/main.js" --format=esm --outfile="$out/cunik.mjs" \
  --banner:js="import { createRequire as __cunikRequire } from 'node:module'; const require = __cunikRequire(import.meta.url);"
# cunik-runc: containerd's shim runs it several times per task (create, start, state, delete).
"${esbuild[@]}" "$out/src/runtime/main.js" --format=esm --outfile="$out/cunik-runc.mjs" \
  --banner:js="import { createRequire as __cunikRequire } from 'node:module'; const require = __cunikRequire(import.meta.url);"
"${esbuild[@]}" "$out/src/runtime/snapshot.js" --format=cjs --outfile="$out/cunik-runc-snapshot.cjs" \
  --define:import.meta.url=__cunikUrl --banner:js="var __cunikUrl = require('node:url').pathToFileURL(__filename).href;"
rm -f "$out/cunik-runc.blob"
node --snapshot-blob "$out/cunik-runc.blob" --build-snapshot "$out/cunik-runc-snapshot.cjs" 2>/dev/null || {
  echo "bundle-cli: no startup snapshot for cunik-runc; bin/cunik-runc uses the bundle" >&2
  rm -f "$out/cunik-runc.blob"
}
# The snapshot builder runs CommonJS; import.meta.url becomes this file's URL (the build folder is where it lives).
"${esbuild[@]}" "$out/src/cli/snapshot.js" --format=cjs --outfile="$out/cunik-snapshot.cjs" \
  --define:import.meta.url=__cunikUrl --banner:js="var __cunikUrl = require('node:url').pathToFileURL(__filename).href;"
rm -f "$out/cunik.blob"
node --snapshot-blob "$out/cunik.blob" --build-snapshot "$out/cunik-snapshot.cjs" 2>/dev/null || {
  echo "bundle-cli: no startup snapshot (node --build-snapshot failed); bin/cunik uses the bundle" >&2
  rm -f "$out/cunik.blob"
}
