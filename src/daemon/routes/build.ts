// Build route: POST /build takes the build context (a tar) and streams the build's progress as
// newline-delimited JSON (BuildMessage). Mistakes found before the build starts (the reference,
// the context, the Cunikfile) are answered as a 400 error; a later failure is the stream's last line.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ErrorBody } from '../../api/schemas.js';
import { BuildQuery, ContextFilesMissing, ContextFilesQuery, type BuildMessage } from '../../api/build.js';
import { CunikError } from '../../errors.js';

export interface PreparedBuild {
  run(progress: (line: string) => void): Promise<{ id: string; ref: string }>;
  dispose(): void;
}

export interface BuildBackend {
  /** Reads the context and checks the Cunikfile (throws INVALID_ARGUMENT naming line and key). */
  prepare(body: Readable, req: { tag: string; file?: string; noCache?: boolean }): Promise<PreparedBuild>;
  /** Which of these context file digests the daemon lacks. */
  missingContextFiles(digests: string[]): string[];
}

const errors = { 400: ErrorBody, 500: ErrorBody };

export function buildRoutes(app: FastifyInstance, backend: BuildBackend | undefined): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post('/build/context/missing', { schema: { tags: ['images'], summary: 'Which of these build context file digests the daemon lacks: send those in the context, and refer to the others by digest (a file entry of size 0 with the PAX record CUNIK.digest)', body: ContextFilesQuery, response: { 200: ContextFilesMissing, ...errors } } }, async (req) => {
    if (!backend) throw new CunikError('INTERNAL', 'this daemon cannot build images');
    return { missing: backend.missingContextFiles(req.body.digests) };
  });
  r.post('/build', { schema: { tags: ['images'], summary: 'Build an image from a Cunikfile; the body is the build context (tar); streams BuildMessage lines', querystring: BuildQuery, consumes: ['application/x-tar'], produces: ['application/x-ndjson'], response: { ...errors } } }, async (req, reply) => {
    const body = req.body as Readable | undefined;
    if (!body || typeof body.pipe !== 'function') {
      return reply.status(400).send({ code: 'INVALID_ARGUMENT', message: 'invalid body: send the build context as application/x-tar', field: 'body' });
    }
    if (!backend) throw new CunikError('INTERNAL', 'this daemon cannot build images');
    const job = await backend.prepare(body, { tag: req.query.t, ...(req.query.file !== undefined && { file: req.query.file }), noCache: req.query.nocache ?? false });
    reply.hijack();
    const out = reply.raw;
    out.writeHead(200, { 'content-type': 'application/x-ndjson' });
    let gone = false;
    out.on('close', () => (gone = true));
    const send = (m: BuildMessage): void => {
      if (!gone) out.write(`${JSON.stringify(m)}\n`);
    };
    try {
      const result = await job.run((line) => send({ stream: `${line}\n` }));
      send({ aux: result });
    } catch (err) {
      const e = err instanceof CunikError ? err : new CunikError('INTERNAL', (err as Error).message);
      if (e.code === 'INTERNAL') app.log.error(err);
      send({ error: e.message, errorDetail: { message: e.message, code: e.code, ...(e.field !== undefined && { field: e.field }) } });
    } finally {
      job.dispose();
      out.end();
    }
  });
}
