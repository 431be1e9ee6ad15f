// How every benchmark measures: sides alternate in ABBA order (A B, B A, A B, ...), so that a host
// that gets slower or faster during the run weighs on both alike; each figure is the median of its
// rounds; the RESULT line holds only measured figures, and the parameters and goals go in the
// header printed first.
import { goalsOf, GOALS, type Goal } from './goals.js';

export const median = (xs: number[]): number => {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** The order of `sides` over `rounds` rounds: forward in even rounds, reversed in odd ones. */
export function abbaOrder(rounds: number, sides: number): number[] {
  const order: number[] = [];
  for (let r = 0; r < rounds; r++) for (let i = 0; i < sides; i++) order.push(r % 2 === 0 ? i : sides - 1 - i);
  return order;
}

/**
 * Run each side once per round in ABBA order after `warmup` unrecorded rounds (forward order);
 * each side returns its measurement. Returns every side's measurements, in run order.
 */
export async function abba<K extends string>(rounds: number, sides: Record<K, () => Promise<number>>, opts: { warmup?: number; onRound?: (round: number, last: Record<K, number>) => void } = {}): Promise<Record<K, number[]>> {
  const names = Object.keys(sides) as K[];
  for (let w = 0; w < (opts.warmup ?? 0); w++) for (const n of names) await sides[n]();
  const out = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const order = abbaOrder(rounds, names.length);
  for (let i = 0; i < order.length; i++) {
    const name = names[order[i]!]!;
    out[name].push(await sides[name]());
    if (opts.onRound && (i + 1) % names.length === 0) {
      const round = (i + 1) / names.length;
      opts.onRound(round, Object.fromEntries(names.map((n) => [n, out[n].at(-1)!])) as Record<K, number>);
    }
  }
  return out;
}

const describe = (g: Goal): string => `${g.figure}: ${g.what}; ${g.better} is better, goal ${g.better === 'lower' ? '<=' : '>='} ${round(g.goal, 3)} (${g.source})`;

/** The bench's header: what it runs with and its goals (from bench/goals.ts). */
export function header(bench: string, params: Record<string, string | number>): void {
  const p = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`# ${bench}: ABBA order, medians${p ? `; ${p}` : ''}`);
  for (const g of goalsOf(bench)) console.log(`#   ${describe(g)}`);
}

export interface Verdict {
  goal: Goal;
  value: number | undefined;
  met: boolean;
}

/** Each goal of the benches that ran, against its figure; a figure missing from the results misses. */
export function checkGoals(results: Record<string, Record<string, number>>): Verdict[] {
  return GOALS.filter((g) => results[g.bench] !== undefined).map((goal) => {
    const value = results[goal.bench]![goal.figure];
    const met = value !== undefined && Number.isFinite(value) && (goal.better === 'lower' ? value <= goal.goal : value >= goal.goal);
    return { goal, value, met };
  });
}

export function verdictLine(v: Verdict): string {
  const g = v.goal;
  return `check ${g.bench}.${g.figure} = ${v.value ?? 'missing'} (goal ${g.better === 'lower' ? '<=' : '>='} ${round(g.goal, 3)}): ${v.met ? 'met' : 'MISSED'}`;
}

export const round = (x: number, digits = 2): number => Number(x.toFixed(digits));
