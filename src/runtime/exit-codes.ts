// The family's exit mapping as the table cunik-shim --exit-codes applies (the shim is the task's
// process: containerd reaps it, so its exit status must already be the guest's code). Computed
// here from the adapter, so the mapping keeps one implementation (families/exit.ts). Pure.
import { exitStatusOf } from '../families/exit.js';
import type { FamilyAdapter } from '../families/types.js';
import { signalName } from '../util/signals.js';

/** 321 bytes as hex: the code for QEMU's exit status 0-255, then for signals 0-64 that ended it. */
export function exitCodeTable(adapter: FamilyAdapter): string {
  const codes: number[] = [];
  for (let s = 0; s < 256; s++) codes.push(exitStatusOf(adapter, { status: s, signal: null }).code);
  for (let n = 0; n <= 64; n++) {
    const signal = signalName(n);
    codes.push(n === 0 || signal === undefined ? 128 + n : exitStatusOf(adapter, { status: null, signal }).code);
  }
  return codes.map((c) => (c & 0xff).toString(16).padStart(2, '0')).join('');
}
