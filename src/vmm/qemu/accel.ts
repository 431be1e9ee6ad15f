// Accelerator choice (DESIGN.md, "VMM: QEMU first"): /dev/kvm opening is not enough — nested KVM on
// some hosts opens fine and then fails on the guest's first SSE instruction ("emulation failure",
// QEMU left paused) or hangs. So `auto` boots a probe kernel that uses SSE/AVX/XSAVE under KVM,
// bounded in time, and falls back to TCG with a one-line reason. The daemon runs this once at start
// and caches the answer.

import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { invalid } from '../../errors.js';
import type { AccelChoice } from '../types.js';
import { DEBUG_EXIT_DEVICE, DEFAULT_QEMU_BINARY, MICROVM_MACHINE } from './argv.js';

export type AccelMode = 'auto' | 'kvm' | 'tcg';

export interface ProbeOptions {
  binary?: string;
  /** The probe kernel: prints `probe: ok` after using SSE/AVX/XSAVE, then exits via isa-debug-exit with 0 (QEMU status 1). */
  probeKernel: string;
  /** Bound on the whole probe. Default 3000 ms. */
  timeoutMs?: number;
  /** Default /dev/kvm (settable for tests). */
  kvmDevice?: string;
}

/** The probe's QEMU argv: trimmed microvm under KVM, serial on stdout, QEMU's errors on stderr. */
export function probeArgv(binary: string, probeKernel: string): string[] {
  return [
    binary,
    '-M', MICROVM_MACHINE,
    '-accel', 'kvm', '-cpu', 'host',
    '-m', '32', '-smp', '1',
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
    '-kernel', probeKernel,
    '-chardev', 'stdio,id=con0,signal=off', '-serial', 'chardev:con0',
    '-device', DEBUG_EXIT_DEVICE,
  ];
}

const firstLine = (s: string): string => s.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';

/** Boot the probe kernel under KVM; KVM only if it prints `probe: ok` and exits with status 1 in time. */
export async function probeAccelerator(opts: ProbeOptions): Promise<AccelChoice> {
  const kvmDevice = opts.kvmDevice ?? '/dev/kvm';
  const timeoutMs = opts.timeoutMs ?? 3000;
  try {
    const fh = await open(kvmDevice, 'r+');
    await fh.close();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { accel: 'tcg', reason: code === 'ENOENT' ? `no ${kvmDevice}` : `cannot open ${kvmDevice}: ${code ?? (err as Error).message}` };
  }

  const argv = probeArgv(opts.binary ?? DEFAULT_QEMU_BINARY, opts.probeKernel);
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let verdict: string | undefined; // why we gave up early
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>((resolve) => {
    child.once('error', (e) => resolve({ code: null, signal: null, spawnError: e }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  const giveUp = (why: string): void => {
    if (verdict !== undefined) return;
    verdict = why;
    child.kill('SIGKILL');
  };
  let internalTimer: NodeJS.Timeout | undefined;
  const internalError = (): void => {
    const emu = /emulation failure/.test(err) ? ' / emulation failure' : '';
    giveUp(`kvm probe failed: KVM internal error${emu}`);
  };
  child.stdout.on('data', (b: Buffer) => {
    out += b.toString('latin1');
  });
  child.stderr.on('data', (b: Buffer) => {
    err += b.toString('latin1');
    // KVM's failure mode on broken nested setups: QEMU prints the error (then a register dump) and
    // stays paused forever. Give the rest of the message a moment to arrive, for the reason.
    if (verdict === undefined && internalTimer === undefined && /KVM internal error/.test(err)) {
      internalTimer = setTimeout(internalError, 100);
    }
    if (internalTimer !== undefined && /emulation failure|\nCode=/.test(err)) internalError();
  });
  const timer = setTimeout(() => giveUp(`kvm probe timed out after ${timeoutMs} ms`), timeoutMs);
  const r = await exited; // also after SIGKILL: never leave the probe behind
  clearTimeout(timer);
  clearTimeout(internalTimer);
  if (r.spawnError !== undefined) {
    const code = (r.spawnError as NodeJS.ErrnoException).code;
    return { accel: 'tcg', reason: `kvm probe could not start ${argv[0]}: ${code ?? r.spawnError.message}` };
  }
  if (verdict !== undefined) return { accel: 'tcg', reason: verdict };
  if (r.code === 1 && out.includes('probe: ok')) return { accel: 'kvm', reason: 'kvm probe: guest ran SSE/AVX/XSAVE code and exited cleanly' };
  const how = r.signal !== null ? `was killed by ${r.signal}` : `exited with status ${r.code}`;
  const said = firstLine(err);
  const printed = out.includes('probe: ok') ? '' : ' without printing "probe: ok"';
  return { accel: 'tcg', reason: `kvm probe failed: QEMU ${how}${printed}${said !== '' ? ` (${said})` : ''}` };
}

/** CUNIK_ACCEL=kvm|tcg|auto (default auto). */
export function accelModeFromEnv(env: NodeJS.ProcessEnv = process.env): AccelMode {
  const v = (env['CUNIK_ACCEL'] ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'kvm' || v === 'tcg') return v;
  throw invalid(`CUNIK_ACCEL must be kvm, tcg or auto, got ${JSON.stringify(env['CUNIK_ACCEL'])}`, 'CUNIK_ACCEL');
}

/** Resolve a mode to an accelerator: kvm/tcg are taken as given, auto runs the probe. */
export async function chooseAccelerator(mode: AccelMode, opts: ProbeOptions): Promise<AccelChoice> {
  if (mode === 'kvm') return { accel: 'kvm', reason: 'forced (CUNIK_ACCEL=kvm)' };
  if (mode === 'tcg') return { accel: 'tcg', reason: 'forced (CUNIK_ACCEL=tcg)' };
  return probeAccelerator(opts);
}
