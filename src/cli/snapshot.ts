// Entry of the CLI's V8 startup snapshot (`node --build-snapshot`): the bundled CLI is loaded and
// initialised at build time, so a command starts as fast as bare `node` does. bin/cunik runs it
// with `node --snapshot-blob dist/cunik.blob -- ARGS`.
import { startupSnapshot } from 'node:v8';
import { main } from './main.js';

startupSnapshot.setDeserializeMainFunction(() => {
  // After `--`, process.argv holds only the user's arguments: put back the usual [node, script].
  // Exit as soon as the command is done (stdout and stderr are synchronous on Linux, and every
  // verb's action settles only when its work is): a natural exit first tears the heap down, about
  // 4 ms of a 1,000-row `ps`.
  main([process.argv[0]!, 'cunik', ...process.argv.slice(1)]).then(
    () => process.exit(),
    (err: unknown) => {
      process.stderr.write(`cunik: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(125);
    },
  );
});
