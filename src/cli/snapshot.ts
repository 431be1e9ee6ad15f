// Entry of the CLI's V8 startup snapshot (`node --build-snapshot`): the bundled CLI is loaded and
// initialised at build time, so a command starts as fast as bare `node` does. bin/cunik runs it
// with `node --snapshot-blob dist/cunik.blob -- ARGS`.
import { startupSnapshot } from 'node:v8';
import { runCli } from './main.js';

startupSnapshot.setDeserializeMainFunction(() => {
  // After `--`, process.argv holds only the user's arguments: put back the usual [node, script].
  runCli([process.argv[0]!, 'cunik', ...process.argv.slice(1)]);
});
