// Entry of cunik-runc's V8 startup snapshot (`node --build-snapshot`, scripts/bundle-cli.sh): the
// runtime is loaded at build time, so each of the several commands containerd's shim runs per
// task starts as fast as bare `node`. bin/cunik-runc runs it with `node --snapshot-blob ... -- ARGS`.
import { startupSnapshot } from 'node:v8';
import { main } from './main.js';

startupSnapshot.setDeserializeMainFunction(() => {
  // After `--`, process.argv holds only the runtime's arguments after argv[0].
  main(process.argv.slice(1)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`cunik-runc: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
});
