// Image routes. References may contain "/" and ":", so clients percent-encode them in paths.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import {
  ImageListQuery,
  ErrorBody,
  ExportQuery,
  ForceQuery,
  ImageDetail,
  ImageSummary,
  ImportQuery,
  LoadResponse,
  RefParams,
  RemoveImageResponse,
  TagRequest,
} from '../../api/schemas.js';

export interface ImagesBackend {
  /** `filters`: the API's text, Docker's map (reference, label, dangling, before, since). */
  list(filters?: string): ImageSummary[];
  inspect(ref: string): ImageDetail;
  import(body: Readable, query: ImportQuery): Promise<ImageDetail>;
  tag(source: string, target: string): Promise<void>;
  remove(ref: string, force: boolean): Promise<RemoveImageResponse>;
  /**
   * Validates the references at once; the stream is the OCI layout tarball. A failure once the
   * stream has begun (a blob found corrupt while copied) ends it early, and `failure` says why.
   */
  export(refs: string[]): { stream: Readable; failure(): string | undefined };
  load(body: Readable): Promise<LoadResponse>;
}

/** The trailer an export that failed midway ends with (one line, the reason). */
export const EXPORT_ERROR_TRAILER = 'cunik-error';

const errors = { 400: ErrorBody, 404: ErrorBody, 409: ErrorBody, 500: ErrorBody };

export function imageRoutes(app: FastifyInstance, backend: ImagesBackend): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const tags = ['images'];

  r.get('/images', { schema: { tags, summary: 'List images', querystring: ImageListQuery, response: { 200: Type.Array(ImageSummary), ...errors } } }, async (req) => backend.list(req.query.filters));

  r.post('/images/import', { schema: { tags, summary: 'Import a kernel file (the request body) as an image', querystring: ImportQuery, consumes: ['application/octet-stream'], response: { 201: ImageDetail, ...errors } } }, async (req, reply) => {
    const body = req.body as Readable | undefined;
    if (!body || typeof (body as Readable).pipe !== 'function') {
      return reply.status(400).send({ code: 'INVALID_ARGUMENT', message: 'invalid body: send the kernel file as application/octet-stream', field: 'body' });
    }
    return reply.status(201).send(await backend.import(body, req.query));
  });

  r.get('/images/export', { schema: { tags, summary: 'Export images as an OCI image layout tarball', querystring: ExportQuery, produces: ['application/x-tar'], response: { ...errors } } }, async (req, reply) => {
    const names = Array.isArray(req.query.names) ? req.query.names : [req.query.names];
    const { stream, failure } = backend.export(names);
    // Sent after the last byte: an archive cut short by an error says so in this trailer.
    reply.trailer(EXPORT_ERROR_TRAILER, async () => {
      const why = failure();
      if (why === undefined) throw new Error('no error'); // a trailer that fails is left out
      return why;
    });
    return reply.type('application/x-tar').send(stream as never);
  });

  r.post('/images/load', { schema: { tags, summary: 'Load images from an OCI image layout tarball (the request body)', consumes: ['application/x-tar'], response: { 200: LoadResponse, ...errors } } }, async (req, reply) => {
    const body = req.body as Readable | undefined;
    if (!body || typeof body.pipe !== 'function') {
      return reply.status(400).send({ code: 'INVALID_ARGUMENT', message: 'invalid body: send an OCI archive as application/x-tar', field: 'body' });
    }
    return backend.load(body);
  });

  r.get('/images/:ref', { schema: { tags, summary: 'Inspect an image', params: RefParams, response: { 200: ImageDetail, ...errors } } }, async (req) => backend.inspect(req.params.ref));

  r.delete('/images/:ref', { schema: { tags, summary: 'Remove an image (untag; delete when no tag is left)', params: RefParams, querystring: ForceQuery, response: { 200: RemoveImageResponse, ...errors } } }, async (req) =>
    backend.remove(req.params.ref, req.query.force ?? false),
  );

  r.post('/images/:ref/tag', { schema: { tags, summary: 'Add a reference to an image', params: RefParams, body: TagRequest, response: { 201: Type.Null(), ...errors } } }, async (req, reply) => {
    await backend.tag(req.params.ref, req.body.target);
    return reply.status(201).send(null);
  });
}
