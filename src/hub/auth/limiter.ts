// Failed password attempts, counted per client address and user and per address alone, so
// guessing a password costs time: past the limit within the window, further attempts are refused
// (429 TOOMANYREQUESTS with Retry-After) without checking the password at all (no bcrypt run for
// them either). Counting per address and user, not per user alone, keeps an attacker from locking
// a user out from everywhere. A successful login clears its own count. In memory: each hub process
// counts its own, one limiter for the API (Basic, /token) and the web UI's sign-in form together.
export interface LimitRule {
  /** Failures allowed within the window. */
  max: number;
  windowMs: number;
}

export const LOGIN_LIMITS = {
  /** One address guessing one user's password. */
  perUser: { max: 5, windowMs: 60_000 },
  /** One address trying many users. */
  perAddress: { max: 30, windowMs: 60_000 },
};

interface Count {
  n: number;
  since: number;
}

/** Entries kept at most (oldest dropped): memory stays bounded under a spray of addresses. */
const MAX_ENTRIES = 10_000;

export class LoginLimiter {
  private readonly counts = new Map<string, Count>();

  constructor(private readonly limits = LOGIN_LIMITS, private readonly now: () => number = Date.now) {}

  private keys(ip: string, user: string): [string, LimitRule][] {
    return [[`u\0${ip}\0${user}`, this.limits.perUser], [`a\0${ip}`, this.limits.perAddress]];
  }

  /** Seconds to wait before an attempt from `ip` for `user` is taken, 0 when it may go ahead. */
  retryAfter(ip: string, user: string): number {
    const t = this.now();
    let wait = 0;
    for (const [k, rule] of this.keys(ip, user)) {
      const c = this.counts.get(k);
      if (c === undefined) continue;
      if (t - c.since >= rule.windowMs) this.counts.delete(k);
      else if (c.n >= rule.max) wait = Math.max(wait, Math.ceil((c.since + rule.windowMs - t) / 1000));
    }
    return wait;
  }

  failed(ip: string, user: string): void {
    const t = this.now();
    for (const [k, rule] of this.keys(ip, user)) {
      const c = this.counts.get(k);
      if (c === undefined || t - c.since >= rule.windowMs) {
        this.counts.delete(k);
        this.counts.set(k, { n: 1, since: t });
      } else c.n++;
    }
    while (this.counts.size > MAX_ENTRIES) this.counts.delete(this.counts.keys().next().value!);
  }

  succeeded(ip: string, user: string): void {
    this.counts.delete(this.keys(ip, user)[0]![0]);
  }

  /**
   * A password check under the limits, as every sign-in path runs it (Basic, /token, the web UI's
   * form): refused unchecked with the seconds to wait when over the limit, otherwise checked and
   * counted.
   */
  async attempt(ip: string, user: string, check: () => Promise<boolean>): Promise<{ ok: boolean } | { retryAfter: number }> {
    const wait = this.retryAfter(ip, user);
    if (wait > 0) return { retryAfter: wait };
    const ok = await check();
    if (ok) this.succeeded(ip, user);
    else this.failed(ip, user);
    return { ok };
  }
}
