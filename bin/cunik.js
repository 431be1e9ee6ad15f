#!/usr/bin/env node
import { main } from '../dist/cunik.mjs';

// Exit once the command is done, as the snapshot's entry does (src/cli/snapshot.ts).
main(process.argv).then(
  () => process.exit(),
  (err) => {
    process.stderr.write(`cunik: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(125);
  },
);
