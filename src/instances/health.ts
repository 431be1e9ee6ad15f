// The health probes of running instances (settings and state machine: health-spec.ts). One loop per
// running instance with a health check, started when the service watches its VM (a start, a restart
// by policy, or a VM adopted at daemon start) and stopped at its exit: every `intervalMs` a probe
// from the host to the guest (record.healthTarget: its bridge address, or in user mode the loopback
// end of a published or hidden forward), `timeoutMs` at most; no probe while paused. A stopped loop
// has no timer and no socket left: its pending probe is aborted.
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterProbe, type HealthLogEntry, type HealthSettings, type HealthState, type HealthStatus } from './health-spec.js';
import type { InstanceRecord } from './record.js';

/** Where a run's probes go (host side). */
export interface HealthTarget {
  host: string;
  port: number;
  /**
   * The host end of a user-mode forward: passt accepts the connection itself and then opens one to
   * the guest, so a TCP probe's connect always succeeds there; it is healthy only if the connection
   * is not closed at once (the guest's reset when nothing listens), see FORWARD_SETTLE_MS.
   */
  forwarded?: boolean;
}

/** How long a forwarded TCP probe's connection must stay open (at most half the timeout). */
export const FORWARD_SETTLE_MS = 250;

export interface HealthHooks {
  /** record.health changed status (from → to): save it, announce it, act on it. */
  changed(record: InstanceRecord, status: HealthStatus): void;
}

interface Loop {
  timer?: NodeJS.Timeout;
  abort: AbortController;
}

type ProbeResult = Pick<HealthLogEntry, 'exitCode' | 'output'>;

export class HealthMonitor {
  private readonly loops = new Map<string, Loop>();

  constructor(private readonly hooks: HealthHooks) {}

  /** Probe the instance while it runs (again from the start if it was probed already). */
  start(record: InstanceRecord): void {
    this.stop(record.id);
    const spec = record.config.health;
    const target = record.healthTarget;
    if (spec === undefined || target === undefined || target === null) return;
    const loop: Loop = { abort: new AbortController() };
    this.loops.set(record.id, loop);
    const next = (): void => {
      loop.timer = setTimeout(() => void tick(), spec.intervalMs);
    };
    const tick = async (): Promise<void> => {
      loop.timer = undefined;
      if (record.state === 'running') {
        const start = new Date();
        const result = await probe(spec, target, loop.abort.signal);
        if (this.loops.get(record.id) !== loop) return; // stopped meanwhile
        const entry: HealthLogEntry = { start: start.toISOString(), end: new Date().toISOString(), ...result };
        const before: HealthState = record.health ?? { status: 'starting', failingStreak: 0, log: [] };
        const inStartPeriod = start.getTime() < Date.parse(record.startedAt ?? '') + spec.startPeriodMs;
        record.health = afterProbe(before, entry, spec.retries, inStartPeriod);
        if (record.health.status !== before.status) this.hooks.changed(record, record.health.status);
      }
      if (this.loops.get(record.id) === loop) next();
    };
    next();
  }

  stop(id: string): void {
    const loop = this.loops.get(id);
    if (loop === undefined) return;
    this.loops.delete(id);
    if (loop.timer !== undefined) clearTimeout(loop.timer);
    loop.abort.abort();
  }

  stopAll(): void {
    for (const id of [...this.loops.keys()]) this.stop(id);
  }

  /** Instances being probed (the leak tests' debug endpoint). */
  active(): number {
    return this.loops.size;
  }
}

/** One probe, never rejecting: exitCode 0 healthy, 1 not (Docker's), with a line saying what happened. */
export function probe(spec: Pick<HealthSettings, 'test' | 'path' | 'timeoutMs'>, target: HealthTarget, signal: AbortSignal): Promise<ProbeResult> {
  return spec.test === 'tcp' ? probeTcp(target, spec.timeoutMs, signal) : probeHttp(target, spec.path ?? '/', spec.timeoutMs, signal);
}

const timedOut = (ms: number): ProbeResult => ({ exitCode: 1, output: `Health check exceeded timeout (${ms}ms)` });

function probeTcp(t: HealthTarget, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: t.host, port: t.port, signal });
    let settled = false;
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(timedOut(timeoutMs)), timeoutMs);
    const connected = { exitCode: 0, output: `connected to ${t.host}:${t.port}` };
    socket.once('connect', () => {
      if (t.forwarded !== true) return done(connected);
      // Through passt: a guest with nothing listening resets its side, and passt closes ours.
      const settle = setTimeout(() => done(connected), Math.min(FORWARD_SETTLE_MS, timeoutMs / 2));
      socket.once('close', () => {
        clearTimeout(settle);
        done({ exitCode: 1, output: `connection to ${t.host}:${t.port} closed at once: nothing listens on guest port` });
      });
      socket.resume();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done({ exitCode: 1, output: `connect ${t.host}:${t.port}: ${err.code ?? err.message}` }));
  });
}

function probeHttp(t: HealthTarget, path: string, timeoutMs: number, signal: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const req = request({ host: t.host, port: t.port, path, method: 'GET', agent: false, signal, headers: { 'user-agent': 'cunik-healthcheck', connection: 'close' } });
    let settled = false;
    const done = (r: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done(timedOut(timeoutMs)), timeoutMs);
    req.once('response', (res) => {
      const code = res.statusCode ?? 0;
      res.resume();
      done({ exitCode: code >= 200 && code < 400 ? 0 : 1, output: `GET ${path}: HTTP ${code}${res.statusMessage ? ` ${res.statusMessage}` : ''}` });
    });
    req.on('error', (err: NodeJS.ErrnoException) => done({ exitCode: 1, output: `GET http://${t.host}:${t.port}${path}: ${err.code ?? err.message}` }));
    req.end();
  });
}
