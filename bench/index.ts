// npm run bench [-- NAME...]: runs the named benchmarks (default: all); each prints its figures,
// and the run ends with one line `RESULT {json}`.
import { cliBench } from './cli.js';
import { coldstart } from './coldstart.js';

const benchmarks: Record<string, () => Promise<Record<string, number>>> = {
  coldstart: () => coldstart(),
  cli: () => cliBench(),
};

const wanted = process.argv.slice(2);
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
const single = Object.keys(results).length === 1 ? Object.values(results)[0] : results;
console.log(`RESULT ${JSON.stringify(single)}`);
