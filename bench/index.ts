// npm run bench [-- NAME...] [--check]: runs the named benchmarks (default: all); each prints a
// header (its parameters and goals, bench/goals.ts) and its figures, and the run ends with one line
// `RESULT {json}` of measured figures only. --check: then each goal's verdict, and exit status 1
// when a figure misses its goal.
import { bootLinux } from './boot-linux.js';
import { buildCache } from './build-cache.js';
import { cliBench } from './cli.js';
import { containerdBench } from './containerd.js';
import { coldstart } from './coldstart.js';
import { density } from './density.js';
import { dockerCompat } from './docker-compat.js';
import { lifecycle } from './lifecycle.js';
import { netChurn } from './net-churn.js';
import { netStart } from './net-start.js';
import { netThroughput } from './net-throughput.js';
import { registryBench } from './registry.js';
import { registryUi } from './registry-ui.js';
import { rootdiskBench } from './rootdisk.js';
import { checkGoals, verdictLine } from './method.js';

const benchmarks: Record<string, () => Promise<Record<string, number>>> = {
  coldstart: () => coldstart(),
  cli: () => cliBench(),
  lifecycle: () => lifecycle(),
  density: () => density(numberArg('--count', 1000), numberArg('--rounds', 4)),
  'boot-linux': () => bootLinux(),
  'build-cache': () => buildCache(),
  registry: () => registryBench(numberArg('--rounds', 4), numberArg('--layer-mib', 64)),
  'registry-ui': () => registryUi(),
  containerd: () => containerdBench(numberArg('--rounds', 15)),
  'docker-compat': () => dockerCompat(),
  'net-churn': () => netChurn(numberArg('--cycles', 200)),
  'net-throughput': () => netThroughput(numberArg('--rounds', 4)),
  'net-start': () => netStart(numberArg('--rounds', 4)),
  rootdisk: () => rootdiskBench(numberArg('--rounds', 5), numberArg('--count', 10)),
};

/**
 * `--count N` (density: how many instances, default 1,000), `--rounds N` (density, registry: rounds
 * of each side, default 4), `--layer-mib N` (registry: size of each of the 4 layers, default 64),
 * `--cycles N` (net-churn: run/rm cycles, default 200).
 */
function numberArg(flag: string, fallback: number): number {
  const i = process.argv.indexOf(flag);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const valued = new Set(['--count', '--rounds', '--layer-mib', '--cycles']);
const flags = new Set(['--check']);
const args = process.argv.slice(2);
const check = args.includes('--check');
const wanted = args.filter((a, i, all) => !valued.has(a) && !flags.has(a) && !valued.has(all[i - 1]!));
for (const name of wanted) {
  if (!benchmarks[name]) {
    console.error(`bench: unknown benchmark ${name} (known: ${Object.keys(benchmarks).join(', ')})`);
    process.exit(2);
  }
}
const results: Record<string, Record<string, number>> = {};
for (const name of wanted.length ? wanted : Object.keys(benchmarks)) {
  results[name] = await benchmarks[name]!();
  console.log(`${name}: ${JSON.stringify(results[name])}`);
}
let missed = 0;
if (check) {
  for (const v of checkGoals(results)) {
    console.log(verdictLine(v));
    if (!v.met) missed++;
  }
}
const single = Object.keys(results).length === 1 ? Object.values(results)[0] : results;
console.log(`RESULT ${JSON.stringify(single)}`);
if (missed > 0) {
  console.error(`bench: ${missed} figure${missed === 1 ? '' : 's'} missed ${missed === 1 ? 'its goal' : 'their goals'}`);
  process.exit(1);
}
