#!/usr/bin/env -S node --max-semi-space-size=1
// bin/cunik-runc runs this with --bundled when the build made dist/cunik-runc.mjs (one file to load).
const bundled = process.argv[2] === '--bundled';
const { main } = bundled ? await import('../dist/cunik-runc.mjs') : await import('../dist/src/runtime/main.js');

main(process.argv.slice(bundled ? 3 : 2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`cunik-runc: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
