// Restart policies, as Docker's: no | on-failure[:N] | always | unless-stopped, with an exponential
// back-off from 100 ms that resets once an instance has stayed up for 10 s. Pure rules here; the
// service owns the timers.

import type { RestartPolicyName, RestartPolicySettings } from '../api/rules.js';

export type { RestartPolicyName };
/** on-failure only: maximumRetryCount restarts at the most (0: never give up). */
export type RestartPolicy = RestartPolicySettings;

export const NO_RESTART: RestartPolicy = { name: 'no', maximumRetryCount: 0 };
export const BACKOFF_START_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_UPTIME_MS = 10_000;

export interface ExitFacts {
  exitCode: number;
  /** Restarts made by the policy so far. */
  restartCount: number;
  /** Stopped or killed by the user (stop, kill, rm): policies never override that. */
  manuallyStopped: boolean;
}

export function shouldRestart(policy: RestartPolicy, facts: ExitFacts): boolean {
  if (facts.manuallyStopped) return false;
  switch (policy.name) {
    case 'no':
      return false;
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return facts.exitCode !== 0 && (policy.maximumRetryCount === 0 || facts.restartCount < policy.maximumRetryCount);
  }
}

/** Whether a starting daemon brings the instance back (it was not running when the daemon came up). */
export function restartsOnDaemonStart(policy: RestartPolicy, manuallyStopped: boolean): boolean {
  return policy.name === 'always' || (policy.name === 'unless-stopped' && !manuallyStopped);
}

/** The delay before the next restart: doubles each time, back to the start after a long enough run. */
export function nextBackoff(previousMs: number | undefined, uptimeMs: number): number {
  if (previousMs === undefined || uptimeMs >= BACKOFF_RESET_UPTIME_MS) return BACKOFF_START_MS;
  return Math.min(previousMs * 2, BACKOFF_MAX_MS);
}
