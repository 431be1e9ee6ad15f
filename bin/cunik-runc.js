#!/usr/bin/env -S node --max-semi-space-size=1
import { main } from '../dist/src/runtime/main.js';

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`cunik-runc: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
