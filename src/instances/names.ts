// Docker-style generated names ("brave_turing"), so users never have to invent one.
import { randomInt } from 'node:crypto';

const adjectives = [
  'brave', 'calm', 'clever', 'eager', 'fast', 'gentle', 'happy', 'jolly', 'keen', 'lucid',
  'merry', 'nimble', 'proud', 'quick', 'quiet', 'sharp', 'swift', 'tiny', 'vivid', 'witty',
];
const scientists = [
  'babbage', 'curie', 'dijkstra', 'engelbart', 'feynman', 'goldberg', 'hopper', 'kay', 'knuth', 'lamport',
  'liskov', 'lovelace', 'mccarthy', 'noether', 'popek', 'ritchie', 'shannon', 'thompson', 'turing', 'wirth',
];

export function generateName(taken: (name: string) => boolean): string {
  for (let attempt = 0; ; attempt++) {
    const base = `${adjectives[randomInt(adjectives.length)]}_${scientists[randomInt(scientists.length)]}`;
    const name = attempt < 10 ? base : `${base}${randomInt(1000)}`;
    if (!taken(name)) return name;
  }
}
