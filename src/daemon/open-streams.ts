// Streams that follow the daemon (events, stats) end cleanly when the server closes. Each is told
// to stop and then waited for, briefly, until its last chunk is out: the server destroys whatever
// is still connected after preClose, and a stream cut before its terminating chunk reads to the
// client as a daemon that crashed (exit 125) instead of one that stopped.
import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

/** How long shutdown waits for a follower's stream to take its last chunk. */
const STREAM_END_WAIT_MS = 500;

export type TrackStream = (raw: ServerResponse, stop: () => void) => () => void;

/** Registers the preClose hook; returns track(raw, stop), whose result untracks the stream. */
export function openStreams(app: FastifyInstance): TrackStream {
  const open = new Map<ServerResponse, () => void>();
  app.addHook('preClose', async () => {
    await Promise.all(
      [...open].map(
        ([raw, stop]) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, STREAM_END_WAIT_MS);
            const done = (): void => {
              clearTimeout(timer);
              resolve();
            };
            if (raw.writableFinished || raw.destroyed) return done();
            raw.once('finish', done);
            raw.once('close', done);
            stop();
          }),
      ),
    );
  });
  return (raw, stop) => {
    open.set(raw, stop);
    return () => void open.delete(raw);
  };
}
