#!/usr/bin/env bash
# Makes the CLI start fast (every command pays for it):
# - dist/cunik.mjs: the CLI bundled into one minified module (one file to load instead of dozens);
# - dist/cunik.blob: a V8 startup snapshot of it (`node --build-snapshot`), which bin/cunik runs
#   with `node --snapshot-blob`: the CLI is then already loaded when node starts.
# The snapshot is tied to the node binary that built it: `npm run build` again after upgrading Node
# (bin/cunik falls back to the bundle when there is no snapshot).
set -euo pipefail
cd "$(dirname "$0")/.."
esbuild=(npx --no-install esbuild --bundle --platform=node --target=node20 --minify --log-level=warning)
"${esbuild[@]}" dist/src/cli/main.js --format=esm --outfile=dist/cunik.mjs \
  --banner:js="import { createRequire as __cunikRequire } from 'node:module'; const require = __cunikRequire(import.meta.url);"
# The snapshot builder runs CommonJS; import.meta.url becomes this file's URL (dist/ is where it lives).
"${esbuild[@]}" dist/src/cli/snapshot.js --format=cjs --outfile=dist/cunik-snapshot.cjs \
  --define:import.meta.url=__cunikUrl --banner:js="var __cunikUrl = require('node:url').pathToFileURL(__filename).href;"
rm -f dist/cunik.blob
node --snapshot-blob dist/cunik.blob --build-snapshot dist/cunik-snapshot.cjs 2>/dev/null || {
  echo "bundle-cli: no startup snapshot (node --build-snapshot failed); bin/cunik uses the bundle" >&2
  rm -f dist/cunik.blob
}
