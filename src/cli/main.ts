// The cunik CLI: a thin client of the Engine API. Only the invoked verb's module is loaded,
// so start-up stays close to bare `node`.
import { Command } from 'commander';
import { VERSION } from '../config/defaults.js';
import { stdoutGone } from './util.js';

type Register = (program: Command) => void;
const verbs: Record<string, () => Promise<{ register: Register }>> = {
  run: () => import('./commands/run.js'),
  create: () => import('./commands/create.js'),
  start: () => import('./commands/start.js'),
  stop: () => import('./commands/stop.js'),
  restart: () => import('./commands/restart.js'),
  kill: () => import('./commands/kill.js'),
  pause: () => import('./commands/pause.js'),
  unpause: () => import('./commands/unpause.js'),
  rm: () => import('./commands/rm.js'),
  ps: () => import('./commands/ps.js'),
  rename: () => import('./commands/rename.js'),
  update: () => import('./commands/update.js'),
  port: () => import('./commands/port.js'),
  top: () => import('./commands/top.js'),
  inspect: () => import('./commands/inspect.js'),
  logs: () => import('./commands/logs.js'),
  attach: () => import('./commands/attach.js'),
  wait: () => import('./commands/wait.js'),
  import: () => import('./commands/import.js'),
  images: () => import('./commands/images.js'),
  history: () => import('./commands/history.js'),
  tag: () => import('./commands/tag.js'),
  rmi: () => import('./commands/rmi.js'),
  save: () => import('./commands/save.js'),
  load: () => import('./commands/load.js'),
  image: () => import('./commands/image.js'),
  info: () => import('./commands/info.js'),
  events: () => import('./commands/events.js'),
  stats: () => import('./commands/stats.js'),
  container: () => import('./commands/container.js'),
  system: () => import('./commands/system.js'),
  volume: () => import('./commands/volume.js'),
  network: () => import('./commands/network.js'),
  version: () => import('./commands/version.js'),
  build: () => import('./commands/build.js'),
  builder: () => import('./commands/builder.js'),
  hub: () => import('./commands/hub.js'),
  pull: () => import('./commands/pull.js'),
  push: () => import('./commands/push.js'),
  login: () => import('./commands/login.js'),
  logout: () => import('./commands/logout.js'),
  search: () => import('./commands/search.js'),
};

/** The verb is the first argument that is not a global option (or its value). */
export function findVerb(args: string[]): string | undefined {
  return args[verbIndex(args)];
}

function verbIndex(args: string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-H' || a === '--host') i++;
    else if (!a.startsWith('-')) return i;
  }
  return -1;
}

/** What a positional argument names, for "cannot be empty" (the unikernel's own args may be). */
const ARGUMENT_NOUNS: Record<string, string> = {
  instance: 'an instance name or id', instances: 'an instance name or id',
  image: 'an image reference', images: 'an image reference', source: 'an image reference', target: 'an image reference',
  name: 'a name', names: 'a name', file: 'a file name', dir: 'a directory', guestPort: 'a port',
};

/** Refuse an empty name, id or reference before it becomes an odd request ('' in a URL path). */
function refuseEmptyArguments(cmd: Command): void {
  cmd.registeredArguments.forEach((arg, i) => {
    const noun = ARGUMENT_NOUNS[arg.name()];
    const value = cmd.processedArgs[i] as string | string[] | undefined;
    if (noun === undefined || value === undefined) return;
    if ((Array.isArray(value) ? value : [value]).some((v) => v.trim() === '')) {
      throw new Error(`${noun} cannot be empty`);
    }
  });
}

/** Commander's "unknown command 'x'\n(Did you mean y?)" as one line. */
export function oneLineError(text: string): string {
  return text.replace(/^error: /, 'cunik: ').replace(/\n\((Did you mean [^)]*)\)\n?$/, (_m, hint: string) => `; ${hint[0]!.toLowerCase()}${hint.slice(1)}\n`);
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('cunik')
    .description('Build, ship and run unikernels')
    .version(VERSION, '-v, --version')
    .option('-H, --host <host>', 'daemon socket to connect to (unix:///path); default: $CUNIK_HOST or the local daemon')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride((err) => {
      // Usage errors are the CLI's own: exit 125 like Docker (help and version exit 0).
      process.exit(err.exitCode === 0 ? 0 : 125);
    })
    .configureOutput({ outputError: (str, write) => write(oneLineError(str)) })
    .hook('preAction', (_program, cmd) => refuseEmptyArguments(cmd));
  const args = argv.slice(2);
  const verb = findVerb(args);
  const load = verb !== undefined ? verbs[verb] : undefined;
  const selected = load ? [load] : Object.values(verbs);
  for (const mod of await Promise.all(selected.map((l) => l()))) mod.register(program);
  // Docker's way: `cunik`, `cunik volume` (a group without its verb) print their help and exit 0.
  const rest = args.filter((a, i) => !['-H', '--host'].includes(a) && !['-H', '--host'].includes(args[i - 1] ?? '') && !a.startsWith('--host='));
  const group = rest.length === 0 ? program : rest.length === 1 && rest[0] === verb ? program.commands.find((c) => c.name() === verb) : undefined;
  if (group && group.commands.length > 0) return void process.stdout.write(group.helpInformation());
  await program.parseAsync(argv);
}

/**
 * The CLI's entry (bin/cunik.js, the startup snapshot): run the command, then exit at once (stdout
 * and stderr are synchronous on Linux, and every verb's action settles only when its work is): a
 * natural exit first tears the heap down, about 4 ms of a 1,000-row `ps`. A failure is one line, 125.
 */
export function runCli(argv: string[]): void {
  // Nobody reads stdout any more (`| head`): stop quietly (the daemon's errors are worded by the client).
  process.stdout.on('error', (err) => {
    if (stdoutGone(err)) process.exit(0);
    throw err;
  });
  main(argv).then(
    () => process.exit(),
    (err: unknown) => {
      if (stdoutGone(err)) process.exit(0);
      process.stderr.write(`cunik: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(125);
    },
  );
}
