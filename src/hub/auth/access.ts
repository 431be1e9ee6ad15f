// Who may do what (the config's auth.access and auth.anonymous rules). Pure.
import type { AccessRule } from '../config.js';

export type Action = 'pull' | 'push' | 'delete';

/** "*" matches within one path component, "**" across them; everything else literally. */
export function patternMatches(pattern: string, name: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`${re}$`).test(name);
}

/**
 * The actions `user` (undefined: anonymous) may do on repository `name`. With no rules for
 * signed-in users at all, every signed-in user may do everything.
 */
export function allowedActions(rules: AccessRule[], user: string | undefined, name: string): Set<Action> {
  const out = new Set<Action>();
  const userRules = rules.filter((r) => r.user !== undefined);
  if (user !== undefined && userRules.length === 0) return new Set(['pull', 'push', 'delete']);
  for (const r of rules) {
    const applies = r.user === undefined || (user !== undefined && (r.user === '*' || r.user === user));
    if (applies && patternMatches(r.repository, name)) r.actions.forEach((a) => out.add(a));
  }
  return out;
}

export interface Scope {
  type: string;
  name: string;
  actions: string[];
}

/** Docker's scope strings: "repository:team/app:pull,push" (names have no ":" but a host part may). */
export function parseScope(s: string): Scope | undefined {
  const first = s.indexOf(':');
  const last = s.lastIndexOf(':');
  if (first < 0 || last === first) return undefined;
  return { type: s.slice(0, first), name: s.slice(first + 1, last), actions: s.slice(last + 1).split(',').filter(Boolean) };
}

export const scopeString = (s: Scope): string => `${s.type}:${s.name}:${s.actions.join(',')}`;
