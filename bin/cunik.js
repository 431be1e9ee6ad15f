#!/usr/bin/env node
import { main } from '../dist/cunik.mjs';

main(process.argv).catch((err) => {
  process.stderr.write(`cunik: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(125);
});
