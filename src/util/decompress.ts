// Streams that undo the compressions image archives and layers come in (docker load takes gzip,
// bzip2, xz and zstd archives; OCI layers may be gzip or zstd). gzip is zlib's; the others are
// Debian's own tools in a child process (setup.sh installs them), reading stdin, writing stdout:
// Node 20's zlib has no zstd or xz, and no maintained pure-JS decoder is as fast.

import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { Duplex, type Readable, type Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type Compression = 'gzip' | 'zstd' | 'xz' | 'bzip2';

/** Magic numbers at the start of each compression's stream. */
export const COMPRESSION_MAGICS: [Compression, number[]][] = [
  ['gzip', [0x1f, 0x8b]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];

/** Bytes sniffCompression needs to tell every kind apart. */
export const SNIFF_BYTES = 6;

/** The compression `head` starts with, or undefined (plain data, such as a tar). */
export function sniffCompression(head: Uint8Array): Compression | undefined {
  return COMPRESSION_MAGICS.find(([, m]) => head.length >= m.length && m.every((b, i) => head[i] === b))?.[0];
}

const TOOLS: Record<Exclude<Compression, 'gzip'>, { cmd: string; args: string[]; pkg: string }> = {
  zstd: { cmd: 'zstd', args: ['-dcq'], pkg: 'zstd' },
  xz: { cmd: 'xz', args: ['-dc'], pkg: 'xz-utils' },
  bzip2: { cmd: 'bzip2', args: ['-dc'], pkg: 'bzip2' },
};

/**
 * A Duplex that decompresses what is written to it. A corrupt or truncated input errors the
 * stream (its readable side never ends cleanly on bad data); destroying it stops the child.
 */
export function decompressor(kind: Compression, opts: { chunkSize?: number } = {}): Duplex {
  if (kind === 'gzip') return createGunzip(opts.chunkSize !== undefined ? { chunkSize: opts.chunkSize } : {});
  return new ToolDecompressor(kind);
}

/** Writes go to the tool's stdin, its stdout is read back; the end waits for its exit status. */
class ToolDecompressor extends Duplex {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private stderr = '';

  constructor(private readonly kind: Exclude<Compression, 'gzip'>) {
    super();
    const tool = TOOLS[kind];
    this.child = spawn(tool.cmd, tool.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const { child } = this;
    child.on('error', (err: NodeJS.ErrnoException) => this.destroy(err.code === 'ENOENT'
      ? new Error(`${kind}-compressed data needs ${tool.cmd} (Debian's ${tool.pkg}) on the daemon's host`)
      : err));
    // A tool that stops reading early (bad data) fails our writes with EPIPE: its exit status,
    // read on close, is the error that matters.
    child.stdin.on('error', () => {});
    child.stderr.setEncoding('utf8').on('data', (t: string) => { this.stderr = (this.stderr + t).slice(-2000); });
    child.stdout.on('data', (chunk: Buffer) => { if (!this.push(chunk)) child.stdout.pause(); });
    // The output ends only once the tool has said the input was whole: a truncated input must not
    // look like a short but valid one.
    child.on('close', (code) => {
      if (this.destroyed) return;
      if (code === 0 && this.writableFinished) this.push(null);
      else if (code === 0) this.destroy(new Error(`${this.kind} data ended before its input did`));
      else this.destroy(new Error(`not valid ${this.kind} data${this.why()}`));
    });
  }

  private why(): string {
    const line = this.stderr.trim().split('\n').pop() ?? '';
    const text = line.replace(/^[^:]*: (\(stdin\)|stdin|\*stdin\*)\s*:?\s*/, '');
    return text ? `: ${text}` : '';
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    // An error here is the EPIPE above; the exit status reports it.
    if (!this.child.stdin.write(chunk)) this.child.stdin.once('drain', () => cb());
    else cb();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin.end(() => cb());
  }

  override _read(): void {
    this.child.stdout.resume();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    cb(err);
  }
}
