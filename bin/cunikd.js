#!/usr/bin/env -S node --max-semi-space-size=1
import { main } from '../dist/src/daemon/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`cunikd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
