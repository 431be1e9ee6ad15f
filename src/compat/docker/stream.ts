// Docker's stream framing (the "stdcopy" format of attach and logs when the container has no TTY):
// each chunk is an 8-byte header [stream, 0, 0, 0, size as big-endian u32] and then its bytes.
// Stream 1 is stdout; a unikernel's serial console is its only output, so everything is stdout.
import { Duplex, Transform, type TransformCallback } from 'node:stream';
import type { Socket } from 'node:net';

export const STDOUT = 1;
export const STDERR = 2;

/** One frame of Docker's multiplexed stream. */
export function frame(chunk: Buffer, stream = STDOUT): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(chunk.length, 4);
  return Buffer.concat([header, chunk]);
}

/** Frames each chunk that passes (logs of a container without a TTY). */
export function framer(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback) {
      done(null, chunk.length ? frame(chunk) : undefined);
    },
  });
}

/**
 * A connection whose writes go out framed and whose reads come in as they are (attach without a
 * TTY: the client's stdin is raw, the output multiplexed). It stands in for the socket the
 * console relay takes, with the socket's few methods the relay calls.
 */
export function framedConnection(socket: Socket): Socket {
  const d = new Duplex({
    write(chunk: Buffer, _enc, done) {
      if (socket.destroyed) return done();
      socket.write(frame(chunk), () => done());
    },
    final(done) {
      socket.end(done);
    },
    read() {
      socket.resume();
    },
    destroy(err, done) {
      socket.destroy();
      done(err);
    },
  });
  socket.on('data', (c: Buffer) => {
    if (!d.push(c)) socket.pause();
  });
  socket.on('end', () => d.push(null));
  socket.on('close', () => d.destroy());
  socket.on('error', () => d.destroy());
  return Object.assign(d, { setNoDelay: (v?: boolean) => socket.setNoDelay(v) }) as unknown as Socket;
}
