#!/usr/bin/env -S node --max-semi-space-size=1 --expose-gc
import { main } from '../dist/src/hub/main.js';

main(process.argv).catch((err) => {
  process.stderr.write(`cunik-hub: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
