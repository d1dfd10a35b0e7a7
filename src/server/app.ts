import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Collection, SearchRequest } from '../engine/collection.js';
import type { BuildProgress } from '../engine/segments.js';
import { toIngestDocument } from '../engine/documents.js';
import type { Engine } from '../engine/engine.js';
import { SparrowError, errorCode } from '../engine/errors.js';
import { EncoderPool } from '../jobs/encoder-pool.js';
import { JobManager, type SourceFormat } from '../jobs/manager.js';
import type { JobRecord } from '../store/jobs-store.js';
import { ApiKeys, presentedKey, type Access } from './auth.js';
import { applyBulk } from './bulk.js';
import { ERROR_TABLE, statusFor } from './errors.js';
import { Metrics } from './metrics.js';
import { RateLimiter, type RateLimitSettings } from './rate-limit.js';
import * as schemas from './schemas.js';
import { highlightRequest, type HttpHighlight } from './schemas.js';
import { openSearchRoutes } from '../opensearch/routes.js';
import { segmentCounts, storedDocumentBytes } from './statistics.js';

export interface AppOptions {
  readonly engine: Engine;
  /** pino options, or false to log nothing (tests). */
  readonly logger?: boolean | Record<string, unknown>;
  /** Largest JSON body in bytes (the same as limits.bodyBytes). */
  readonly bodyLimit?: number;
  readonly limits?: Partial<schemas.ServerLimits>;
  /** API keys; none configured means every route is open (the server then binds to loopback only). */
  readonly keys?: ApiKeys;
  /** Per-client request rate; absent or 0 per second: no limit. */
  readonly rateLimit?: RateLimitSettings;
  /** Folder server-side job sources must lie in; absent: only uploads. */
  readonly importDir?: string;
  /** Where uploaded job bodies are spooled (default DATA_DIR/uploads). */
  readonly uploadDir?: string;
  /** Encoder worker threads for bulk writes and jobs (default: one per spare core, at least one). */
  readonly workers?: number;
  readonly jobBatchSize?: number;
  /** Start jobs a previous process left unfinished when the app is ready (default true). */
  readonly resumeJobs?: boolean;
  /** Readiness beyond "not shutting down" (the server warms indexes first). */
  readonly isReady?: () => boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    jobs: JobManager;
    metrics: Metrics;
  }
  interface FastifyContextConfig {
    /** Who may call the route: public, or the least role (read < write < admin). */
    access?: Access;
  }
}

/** Builds the HTTP application over an open engine. It never listens: callers (serve, tests) do. */
export function buildApp(options: AppOptions): FastifyInstance {
  const limits: schemas.ServerLimits = {
    ...schemas.DEFAULT_LIMITS,
    ...(options.bodyLimit !== undefined ? { bodyBytes: options.bodyLimit } : {}),
    ...options.limits,
  };
  const { engine } = options;
  const keys = options.keys ?? new ApiKeys([]);
  const limiter = new RateLimiter(options.rateLimit ?? { perSecond: 0 });
  const metrics = new Metrics();
  const pool = new EncoderPool(options.workers ?? EncoderPool.defaultSize());
  const jobs = new JobManager({
    engine,
    pool,
    uploadDir: options.uploadDir ?? path.join(engine.dataDir, 'uploads'),
    ...(options.importDir ? { importDir: options.importDir } : {}),
    ...(options.jobBatchSize ? { defaultBatchSize: options.jobBatchSize } : {}),
    onRunStarted: () => metrics.increment('sparrow_jobs_started_total'),
    onBatchCommitted: (_job, batch) => {
      metrics.increment('sparrow_job_documents_total', { result: 'indexed' }, batch.indexed);
      metrics.increment('sparrow_job_documents_total', { result: 'updated' }, batch.updated);
      metrics.increment('sparrow_job_documents_total', { result: 'failed' }, batch.failed);
    },
    onFinished: (job) => metrics.increment('sparrow_jobs_finished_total', { status: job.status }),
    onError: (job, error) => app.log.error({ err: error, job: job.id }, 'job failed'),
  });
  let closing = false;

  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: limits.bodyBytes,
    // Shutdown answers with the API's own error body (NOT_READY), not Fastify's.
    return503OnClosing: false,
    // Document ids may be 512 characters, several bytes each once percent-encoded.
    routerOptions: { maxParamLength: 8192 },
    // Errors raised before routing (an undecodable URL, an over-long path parameter) answer in the API's format too.
    frameworkErrors: (error, _request, reply) => {
      const code = error.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'URI_TOO_LONG' : 'BAD_REQUEST';
      void (reply as FastifyReply).status(statusFor(code)).send({ error: { code, message: error.message } });
    },
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, allowUnionTypes: true } },
  });
  app.decorate('jobs', jobs);
  app.decorate('metrics', metrics);

  // NDJSON and gzip bodies reach their routes as streams: they are read line by line (or spooled
  // to disk), never buffered whole, and their own limits apply while reading.
  app.addContentTypeParser([...schemas.NDJSON_TYPES, ...schemas.GZIP_TYPES], (_request, payload, done) => done(null, payload));
  // No route takes plain text: such a body is answered 415, not parsed into a string that fails validation.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { code, message, details } = describeError(error);
    const status = statusFor(code);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (code === 'UNAUTHORIZED') void reply.header('www-authenticate', 'Bearer');
    void reply.status(status).send({ error: { code, message, ...(details ? { details } : {}) } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `no route for ${request.method} ${request.url}` } });
  });

  /** The role of the key each request presented (absent: no keys configured, everyone is admin). */
  const roles = new WeakMap<FastifyRequest, 'read' | 'write' | 'admin'>();

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    if (closing) {
      void reply.header('connection', 'close');
      throw new SparrowError('NOT_READY', 'the server is shutting down');
    }
    const access = request.routeOptions.config?.access ?? 'public';
    if (access === 'public') return;
    let client = request.ip;
    if (keys.size > 0) {
      const presented = presentedKey(request.headers);
      if (!presented) throw new SparrowError('UNAUTHORIZED', 'an API key is required: send "Authorization: Bearer KEY" or "X-API-Key: KEY"');
      const identity = keys.identify(presented);
      if (!identity) throw new SparrowError('UNAUTHORIZED', 'the API key is not valid');
      if (!ApiKeys.allows(identity.role, access)) {
        throw new SparrowError('FORBIDDEN', `this operation needs the ${access} role; the key has ${identity.role}`, { needed: access, role: identity.role });
      }
      client = `key:${identity.name}`;
      roles.set(request, identity.role);
    }
    const waitSeconds = limiter.take(client);
    if (waitSeconds > 0) {
      void reply.header('retry-after', String(Math.ceil(waitSeconds)));
      throw new SparrowError('RATE_LIMITED', `too many requests; retry in ${Math.ceil(waitSeconds)} s`, { retry_after_seconds: Math.ceil(waitSeconds) });
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.addHook('onReady', async () => {
    if (options.resumeJobs ?? true) jobs.resume();
  });
  app.addHook('preClose', async () => {
    closing = true;
  });
  // Fastify has stopped accepting and finished in-flight requests: let the running job commit its
  // batch and checkpoint, then stop the encoder threads.
  app.addHook('onClose', async () => {
    await jobs.stop();
    await pool.close();
  });

  app.addSchema(schemas.errorResponse);
  app.addSchema(schemas.searchFilterSchema());

  void app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'sparrow',
        version: '0.1.0',
        description: 'Learned sparse retrieval search server. Errors are {"error": {"code", "message", "details"}}; codes are listed in docs/errors.md.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'An API key (roles: read, write, admin).' },
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      tags: [
        { name: 'collections', description: 'Create, list, inspect and delete collections (admin to change).' },
        { name: 'documents', description: 'Upsert, get and delete documents (write to change).' },
        { name: 'search', description: 'Top-k search (read).' },
        { name: 'jobs', description: 'Bulk indexing jobs (write to start or cancel).' },
        { name: 'operations', description: 'Health, readiness and metrics.' },
      ],
    },
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json['$id'] === 'string' ? json['$id'] : `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const access = (route.config as { access?: Access } | undefined)?.access ?? 'public';
      const documented = { ...(schema as Record<string, unknown>) };
      if (access !== 'public') documented['security'] = [{ bearer: [] }, { apiKey: [] }];
      return { schema: documented as typeof schema, url };
    },
  });
  void app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  // The OpenSearch-compatible API: its own body parsing and error shapes, the same auth and limits.
  void app.register(openSearchRoutes, { prefix: '/_os', engine, pool, bulkBytes: limits.bulkBytes });

  void app.register(async (api) => {
    registerOperations(api);
    registerCollections(api);
    registerDocuments(api);
    registerSearch(api);
    registerJobs(api);
    registerPage(api);
  });

  function registerPage(api: FastifyInstance): void {
    // The search page (src/web, built into dist/src/web): public files; what it shows comes
    // through the API with the key the person gives it.
    const pageDir = fileURLToPath(new URL('../web/', import.meta.url));
    const PAGE_FILES: Record<string, string> = { 'app.js': 'text/javascript; charset=utf-8', 'style.css': 'text/css; charset=utf-8', 'app.js.map': 'application/json' };
    const send = (reply: FastifyReply, name: string, type: string): Buffer => {
      const file = path.join(pageDir, name);
      if (!fs.existsSync(file)) throw new SparrowError('PAGE_NOT_BUILT', `the search page is not built (${name} is missing); run npm run build`);
      void reply.type(type).header('cache-control', 'no-cache');
      return fs.readFileSync(file);
    };
    api.get('/', { schema: { tags: ['operations'], summary: 'The search page (HTML).', produces: ['text/html'], hide: true } }, async (_request, reply) => send(reply, 'index.html', 'text/html; charset=utf-8'));
    api.get<{ Params: { file: string } }>(
      '/ui/:file',
      { schema: { tags: ['operations'], summary: 'The search page\'s script and style sheet.', hide: true, params: { type: 'object', required: ['file'], properties: { file: { type: 'string', maxLength: 64 } } } } },
      async (request, reply) => {
        const type = PAGE_FILES[request.params.file];
        if (!type) throw new SparrowError('ROUTE_NOT_FOUND', `no page file ${JSON.stringify(request.params.file)}`);
        return send(reply, request.params.file, type);
      },
    );
    api.get(
      '/session',
      {
        config: { access: 'read' },
        schema: {
          tags: ['operations'],
          summary: 'What the presented key may do: its role (admin when the server has no keys) and whether keys are required.',
          response: { 200: { type: 'object', properties: { role: { type: 'string', enum: ['read', 'write', 'admin'] }, keys_required: { type: 'boolean' } } }, ...schemas.errorResponses },
        },
      },
      async (request) => ({ role: roles.get(request) ?? 'admin', keys_required: keys.size > 0 }),
    );
  }

  function registerOperations(api: FastifyInstance): void {
    api.get('/health', { schema: { tags: ['operations'], summary: 'Liveness: the process answers.', response: { 200: schemas.healthResponse } } }, async () => ({
      status: 'ok',
    }));
    api.get(
      '/ready',
      { schema: { tags: ['operations'], summary: 'Readiness: the store is open and indexes are loaded.', response: { 200: schemas.healthResponse, ...schemas.errorResponses } } },
      async () => {
        if (closing || !(options.isReady?.() ?? true)) throw new SparrowError('NOT_READY', closing ? 'the server is shutting down' : 'the server is starting');
        return { status: 'ready' };
      },
    );
    api.get(
      '/metrics',
      {
        config: { access: 'read' },
        schema: { tags: ['operations'], summary: 'Prometheus metrics (text format 0.0.4).', produces: ['text/plain'], response: { ...schemas.errorResponses } },
      },
      async (_request, reply) => {
        void reply.type('text/plain; version=0.0.4; charset=utf-8');
        return metrics.render(scrapeGauges());
      },
    );
  }

  /** The segment build or merge running in each open collection: postings blocked, total, rate, time left. */
  function segmentBuildGauges() {
    const running = engine.openCollections().flatMap((collection) => {
      const progress = collection.segmentBuildProgress();
      return progress ? [{ labels: { collection: collection.name, kind: progress.kind }, progress }] : [];
    });
    const family = (name: string, help: string, value: (p: NonNullable<ReturnType<Collection['segmentBuildProgress']>>) => number) => ({
      name,
      help,
      samples: running.map(({ labels, progress }) => ({ labels, value: value(progress) })),
    });
    return [
      family('sparrow_segment_build_documents', 'Documents in the segment build or merge running now.', (p) => p.documents),
      family('sparrow_segment_build_postings_done', 'Postings blocked so far by the running segment build.', (p) => p.postingsDone),
      family('sparrow_segment_build_postings_total', 'Postings the running segment build keeps after pruning (0 until pruned).', (p) => p.postingsTotal),
      family('sparrow_segment_build_postings_per_second', 'Rate of the running segment build.', (p) => p.postingsPerSecond),
      family('sparrow_segment_build_seconds_left', 'Time left of the running segment build at its rate so far (-1 until known).', (p) => p.secondsLeft ?? -1),
    ];
  }

  function scrapeGauges() {
    const collections = engine.listCollections();
    const segments = segmentCounts(engine);
    const jobCounts = jobs.counts();
    const memory = process.memoryUsage();
    return [
      {
        name: 'sparrow_collection_documents',
        help: 'Live documents per collection.',
        samples: collections.map((c) => ({ labels: { collection: c.name }, value: engine.store.countDocuments(c.id) })),
      },
      {
        name: 'sparrow_collection_segments',
        help: 'Approximate-index segments per collection.',
        samples: collections.map((c) => ({ labels: { collection: c.name }, value: segments.get(c.id) ?? 0 })),
      },
      ...segmentBuildGauges(),
      { name: 'sparrow_jobs', help: 'Bulk indexing jobs by status.', samples: Object.entries(jobCounts).map(([status, n]) => ({ labels: { status }, value: n })) },
      { name: 'sparrow_search_threads', help: 'Search threads running (0: segments are searched on the main thread).', samples: [{ labels: {}, value: engine.searchPool?.aliveThreads ?? 0 }] },
      { name: 'sparrow_search_thread_tasks', help: 'Segment searches the search threads have answered.', samples: [{ labels: {}, value: engine.searchPool?.tasksRun ?? 0 }] },
      { name: 'process_resident_memory_bytes', help: 'Resident memory of the server process.', samples: [{ labels: {}, value: memory.rss }] },
      { name: 'nodejs_heap_used_bytes', help: 'V8 heap in use.', samples: [{ labels: {}, value: memory.heapUsed }] },
      { name: 'process_uptime_seconds', help: 'Seconds since the process started.', samples: [{ labels: {}, value: process.uptime() }] },
    ];
  }

  function registerCollections(api: FastifyInstance): void {
    api.post<{ Body: { name: string; encoder?: Record<string, unknown>; index?: Record<string, unknown>; dense?: Record<string, unknown> } }>(
      '/collections',
      {
        config: { access: 'admin' },
        schema: { tags: ['collections'], summary: 'Create a collection.', body: schemas.createCollectionBody, response: { 201: schemas.collectionDetail, ...schemas.errorResponses } },
      },
      async (request, reply) => {
        const { name, encoder, index, dense } = request.body;
        const collection = engine.createCollection(name, { ...(encoder ? { encoder } : {}), ...(index ? { index } : {}), ...(dense ? { dense } : {}) });
        void reply.status(201).header('location', `/collections/${encodeURIComponent(collection.name)}`);
        return collectionDetail(collection.name);
      },
    );
    api.get(
      '/collections',
      { config: { access: 'read' }, schema: { tags: ['collections'], summary: 'List collections.', response: { 200: schemas.collectionList, ...schemas.errorResponses } } },
      async () => ({
        collections: engine.listCollections().map((c) => ({
          name: c.name,
          encoder: c.encoder,
          index: c.indexSettings,
          ...(c.dense ? { dense: c.dense } : {}),
          created_at: c.createdAt,
          documents: engine.store.countDocuments(c.id),
        })),
      }),
    );
    api.get<{ Params: { name: string } }>(
      '/collections/:name',
      {
        config: { access: 'read' },
        schema: {
          tags: ['collections'],
          summary: 'A collection with its statistics: documents, terms, segments, bytes, settings.',
          params: schemas.collectionParams,
          response: { 200: schemas.collectionDetail, ...schemas.errorResponses },
        },
      },
      async (request) => collectionDetail(request.params.name),
    );
    api.delete<{ Params: { name: string } }>(
      '/collections/:name',
      {
        config: { access: 'admin' },
        schema: {
          tags: ['collections'],
          summary: 'Delete a collection, its documents, and cancel its unfinished jobs.',
          params: schemas.collectionParams,
          response: { 200: schemas.deletedResponse, ...schemas.errorResponses },
        },
      },
      async (request) => {
        const { name } = request.params;
        engine.collection(name);
        await jobs.cancelForCollection(name);
        if (!engine.deleteCollection(name)) throw collectionNotFound(name);
        return { name, result: 'deleted' };
      },
    );
  }

  function collectionDetail(name: string) {
    const collection = engine.collection(name);
    const statistics = collection.statistics();
    const segments = collection.segmentStatistics();
    const documentBytes = storedDocumentBytes(engine, collection);
    const segmentBytes = segments.segments.reduce((sum, s) => sum + s.bytes, 0);
    return {
      name: collection.name,
      encoder: collection.record.encoder,
      index: { ...collection.segmentSettings },
      ...(collection.record.dense ? { dense: collection.record.dense } : {}),
      created_at: collection.record.createdAt,
      documents: statistics.documents,
      statistics: {
        ...statistics,
        segments: segments.segments.length,
        segment_list: segments.segments,
        unsegmented: segments.tail,
        building: segments.building,
        ...(segments.error ? { build_error: segments.error } : {}),
        bytes: { documents: documentBytes, segments: segmentBytes, total: documentBytes + segmentBytes },
      },
    };
  }

  function registerDocuments(api: FastifyInstance): void {
    api.put<{ Params: { name: string; id: string }; Body: Record<string, unknown> }>(
      '/collections/:name/documents/:id',
      {
        config: { access: 'write' },
        schema: {
          tags: ['documents'],
          summary: 'Create or replace one document by id.',
          params: schemas.documentParams,
          body: schemas.documentBody,
          response: { 200: schemas.upsertResponse, 201: schemas.upsertResponse, ...schemas.errorResponses },
        },
      },
      async (request, reply) => {
        const { name, id } = request.params;
        const collection = engine.collection(name);
        const body = request.body;
        for (const key of ['id', '_id']) {
          if (key in body && String(body[key]) !== id) {
            throw new SparrowError('ID_MISMATCH', `the body's ${key} ${JSON.stringify(body[key])} differs from the id in the path ${JSON.stringify(id)}`);
          }
        }
        const { id: _id, _id: _underscoreId, ...fields } = body;
        const document = toIngestDocument({ ...fields, id });
        const result = await collection.upsertAsync([document]);
        const rejection = result.rejected[0];
        if (rejection) throw new SparrowError(rejection.code in ERROR_TABLE ? rejection.code : 'INVALID_DOCUMENT', rejection.message, { id });
        const created = result.inserted === 1;
        void reply.status(created ? 201 : 200);
        return { id, result: created ? 'created' : 'updated' };
      },
    );
    api.get<{ Params: { name: string; id: string } }>(
      '/collections/:name/documents/:id',
      {
        config: { access: 'read' },
        schema: { tags: ['documents'], summary: 'One document\'s stored fields.', params: schemas.documentParams, response: { 200: schemas.documentResponse, ...schemas.errorResponses } },
      },
      async (request) => {
        const { name, id } = request.params;
        const document = engine.collection(name).get(id);
        if (!document) throw documentNotFound(name, id);
        return document;
      },
    );
    api.delete<{ Params: { name: string; id: string } }>(
      '/collections/:name/documents/:id',
      {
        config: { access: 'write' },
        schema: { tags: ['documents'], summary: 'Delete one document.', params: schemas.documentParams, response: { 200: schemas.deletedResponse, ...schemas.errorResponses } },
      },
      async (request) => {
        const { name, id } = request.params;
        if (engine.collection(name).delete([id]) === 0) throw documentNotFound(name, id);
        return { id, result: 'deleted' };
      },
    );
    api.post<{ Params: { name: string }; Body: Readable }>(
      '/collections/:name/documents/_bulk',
      {
        config: { access: 'write' },
        schema: {
          tags: ['documents'],
          summary: 'Upsert and delete many documents from an NDJSON body, answered line by line.',
          description:
            'One JSON object per line: {"id": ..., fields} upserts, {"_op": "delete", "id": ...} deletes; applied in order. ' +
            `A bad line fails alone. At most ${limits.bulkLines} lines, ${limits.bulkBytes} bytes, ${limits.lineBytes} bytes per line.`,
          params: schemas.collectionParams,
          body: schemas.ndjsonBody('NDJSON: one document or delete operation per line.'),
          response: { 200: schemas.bulkResponse, ...schemas.errorResponses },
        },
      },
      async (request) => {
        const body = request.body;
        if (!isStream(body)) throw new SparrowError('UNSUPPORTED_MEDIA_TYPE', `send the bulk body as ${schemas.NDJSON_TYPES[0]}`);
        declaredLengthWithin(request, limits.bulkBytes);
        const response = await applyBulk(engine, request.params.name, body, {
          pool,
          maxBytes: limits.bulkBytes,
          maxLineBytes: limits.lineBytes,
          maxLines: limits.bulkLines,
        });
        for (const result of ['indexed', 'updated', 'deleted', 'not_found', 'failed'] as const) {
          if (response[result] > 0) metrics.increment('sparrow_bulk_documents_total', { result }, response[result]);
        }
        return response;
      },
    );
  }

  function registerSearch(api: FastifyInstance): void {
    api.post<{
      Params: { name: string };
      Body: {
        query?: string | Record<string, number>;
        dense_vector?: number[];
        retrieval?: 'auto' | 'sparse' | 'dense' | 'hybrid';
        fusion?: Record<string, unknown>;
        k: number;
        fields?: boolean | string[];
        explain: boolean;
        filter?: Record<string, unknown>;
        mode?: 'auto' | 'exact' | 'approximate' | 'safe';
        approximate?: { query_cut?: number; heap_factor?: number; knn?: number };
        highlight?: HttpHighlight;
      };
    }>(
      '/collections/:name/search',
      {
        config: { access: 'read' },
        schema: {
          tags: ['search'],
          summary: 'Top-k documents for a text query or a sparse vector.',
          params: schemas.collectionParams,
          body: schemas.searchBodySchema(limits),
          response: { 200: schemas.searchResponse, ...schemas.errorResponses },
        },
      },
      async (request) => {
        const collection = engine.collection(request.params.name);
        const body = request.body;
        // Analysed terms are counted here for encoders that analyse synchronously (BM25); model
        // encoders bound their own output (the vocabulary, their top-k pruning).
        if (typeof body.query === 'string' && body.query.trim().length > 0 && !collection.encoder.encodeQueryAsync) {
          const terms = new Set<string>();
          for (const field of collection.encoder.encodeQuery(body.query).terms) for (const term of field.keys()) terms.add(term);
          if (terms.size > limits.queryTerms) {
            throw new SparrowError('TOO_MANY_QUERY_TERMS', `the query has ${terms.size} distinct terms; at most ${limits.queryTerms} are allowed`, { limit: limits.queryTerms });
          }
        }
        const searchRequest: SearchRequest = {
          ...(body.query !== undefined ? { query: body.query } : {}),
          ...(body.dense_vector !== undefined ? { denseVector: body.dense_vector } : {}),
          ...(body.retrieval !== undefined ? { retrieval: body.retrieval } : {}),
          ...(body.fusion !== undefined ? { fusion: body.fusion } : {}),
          k: body.k,
          fields: body.fields ?? true,
          explain: body.explain,
          ...(body.filter !== undefined ? { filter: body.filter } : {}),
          ...(body.mode !== undefined ? { mode: body.mode } : {}),
          ...(body.highlight !== undefined ? { highlight: highlightRequest(body.highlight) } : {}),
          ...(body.approximate
            ? {
                approximate: {
                  ...(body.approximate.query_cut !== undefined ? { queryCut: body.approximate.query_cut } : {}),
                  ...(body.approximate.heap_factor !== undefined ? { heapFactor: body.approximate.heap_factor } : {}),
                  ...(body.approximate.knn !== undefined ? { knn: body.approximate.knn } : {}),
                },
              }
            : {}),
        };
        return collection.searchAsync(searchRequest);
      },
    );
  }

  function registerJobs(api: FastifyInstance): void {
    api.post<{
      Params: { name: string };
      Body: {
        target_recall: number;
        k: number;
        queries?: { id?: string; query: string | Record<string, number> }[];
        sample?: number;
        seed?: number;
        query_cuts?: number[];
        heap_factors?: number[];
        apply: boolean;
      };
    }>(
      '/collections/:name/_tune',
      {
        config: { access: 'write' },
        schema: {
          tags: ['jobs'],
          summary:
            'Start a job that tunes the approximate index to a target recall: measures recall@k against the exact engine and latency over a grid of query_cut x heap_factor, stores the fastest setting reaching the target as the default, and keeps a report (GET /jobs/ID, /jobs/ID/report.md, /jobs/ID/report.png).',
          params: schemas.collectionParams,
          body: schemas.tuneBodySchema(limits),
          response: { 202: schemas.jobView, ...schemas.errorResponses },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const job = jobs.createTune({
          collection: request.params.name,
          targetRecall: body.target_recall,
          k: body.k,
          apply: body.apply,
          ...(body.queries ? { queries: body.queries.map((q, i) => ({ id: q.id ?? `q${i + 1}`, query: q.query })) } : {}),
          ...(body.sample !== undefined ? { sample: body.sample } : {}),
          ...(body.seed !== undefined ? { seed: body.seed } : {}),
          ...(body.query_cuts ? { queryCuts: body.query_cuts } : {}),
          ...(body.heap_factors ? { heapFactors: body.heap_factors } : {}),
        });
        void reply.status(202).header('location', `/jobs/${job.id}`);
        return jobView(job);
      },
    );
    api.get<{ Params: { id: string; file: string } }>(
      '/jobs/:id/:file',
      {
        config: { access: 'read' },
        schema: {
          tags: ['jobs'],
          summary: 'A finished tuning job\'s report: report.md (the Pareto table) or report.png (recall against p50 latency).',
          params: { type: 'object', required: ['id', 'file'], properties: { id: { type: 'string', maxLength: 128 }, file: { type: 'string', enum: ['report.md', 'report.png'] } } },
          response: { ...schemas.errorResponses },
        },
      },
      async (request, reply) => {
        const job = jobs.get(request.params.id);
        const file = path.join(jobs.reportDir(job.id), request.params.file);
        if (!job.result || !fs.existsSync(file)) {
          throw new SparrowError('REPORT_NOT_FOUND', `job ${job.id} has no ${request.params.file}${job.status === 'completed' ? '' : ` (it is ${job.status})`}`, { job: job.id });
        }
        void reply.type(request.params.file.endsWith('.png') ? 'image/png' : 'text/markdown; charset=utf-8');
        return fs.readFileSync(file);
      },
    );
    api.post<{
      Body: { collection: string; source: { path: string; format?: SourceFormat }; batch_size?: number } | Readable;
      Querystring: { collection?: string; format?: 'jsonl' | 'vectors'; batch_size?: string };
    }>(
      '/jobs',
      {
        config: { access: 'write' },
        schema: {
          tags: ['jobs'],
          summary: 'Start a bulk indexing job from a server-side file or folder (JSON body) or from the uploaded body (NDJSON or gzip).',
          querystring: schemas.uploadQuery,
          body: schemas.createJobBody(limits),
          response: { 202: schemas.jobView, ...schemas.errorResponses },
        },
      },
      async (request, reply) => {
        const body = request.body;
        let job: JobRecord;
        if (isStream(body)) {
          const { collection, format, batch_size: batchSize } = request.query;
          if (!collection) throw new SparrowError('VALIDATION_FAILED', 'an uploaded job needs ?collection=NAME', { errors: [{ message: 'querystring must have property collection' }] });
          declaredLengthWithin(request, limits.uploadBytes);
          job = await jobs.createFromUpload({
            collection,
            body,
            gzip: (schemas.GZIP_TYPES as readonly string[]).includes(mediaType(request)),
            ...(format ? { format } : {}),
            ...(batchSize ? { batchSize: Number(batchSize) } : {}),
            maxBytes: limits.uploadBytes,
          });
        } else {
          job = jobs.createFromPath({
            collection: body.collection,
            path: body.source.path,
            ...(body.source.format ? { format: body.source.format } : {}),
            ...(body.batch_size ? { batchSize: body.batch_size } : {}),
          });
        }
        void reply.status(202).header('location', `/jobs/${job.id}`);
        return jobView(job);
      },
    );
    api.get<{ Querystring: { limit?: string } }>(
      '/jobs',
      { config: { access: 'read' }, schema: { tags: ['jobs'], summary: 'Recent jobs, newest first.', querystring: schemas.jobListQuery, response: { 200: schemas.jobList, ...schemas.errorResponses } } },
      async (request) => ({ jobs: jobs.list(request.query.limit ? Number(request.query.limit) : 100).map((job) => jobView(job)) }),
    );
    api.get<{ Params: { id: string } }>(
      '/jobs/:id',
      {
        config: { access: 'read' },
        schema: {
          tags: ['jobs'],
          summary: 'A job\'s progress: processed, failed, rate, time left, rejected lines.',
          params: schemas.jobParams,
          response: { 200: schemas.jobView, ...schemas.errorResponses },
        },
      },
      async (request) => {
        const job = jobs.get(request.params.id);
        return jobView(job, engine.openCollections().find((c) => c.name === job.collection)?.segmentBuildProgress());
      },
    );
    api.delete<{ Params: { id: string } }>(
      '/jobs/:id',
      {
        config: { access: 'write' },
        schema: {
          tags: ['jobs'],
          summary: 'Cancel a job; what it committed stays.',
          params: schemas.jobParams,
          response: { 200: schemas.jobView, ...schemas.errorResponses },
        },
      },
      async (request) => jobView(await jobs.cancel(request.params.id)),
    );
  }

  return app;
}

/** The public shape of a job, with rate and time left derived from its committed progress. */
export function jobView(job: JobRecord, segmentBuild?: BuildProgress) {
  const seconds = job.elapsedMs / 1000;
  const fraction = job.totalBytes > 0 ? Math.min(1, job.bytesRead / job.totalBytes) : job.status === 'completed' ? 1 : 0;
  const finished = job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled';
  const eta = finished ? 0 : fraction > 0 && seconds > 0 ? seconds * (1 / fraction - 1) : null;
  const source = job.source as { type: 'path' | 'upload' | 'tune'; requested?: string; format?: string };
  return {
    id: job.id,
    collection: job.collection,
    status: job.status,
    source: { type: source.type, ...(source.type === 'path' && source.requested ? { path: source.requested } : {}), ...(source.format ? { format: source.format } : {}) },
    progress: {
      processed: job.processed,
      indexed: job.indexed,
      updated: job.updated,
      failed: job.failed,
      line: job.line,
      bytes_read: job.bytesRead,
      total_bytes: job.totalBytes,
      fraction: Math.round(fraction * 10000) / 10000,
      docs_per_second: seconds > 0 ? Math.round((job.processed / seconds) * 10) / 10 : 0,
      eta_seconds: eta === null ? null : Math.round(eta * 10) / 10,
      elapsed_seconds: Math.round(seconds * 1000) / 1000,
    },
    // The collection's segment build or merge running now (the job's documents go into segments in
    // the background, and a build may outlast the job).
    ...(segmentBuild
      ? {
          segment_build: {
            kind: segmentBuild.kind,
            documents: segmentBuild.documents,
            pending_documents: segmentBuild.pendingDocuments,
            postings_done: segmentBuild.postingsDone,
            postings_total: segmentBuild.postingsTotal,
            postings_per_second: Math.round(segmentBuild.postingsPerSecond),
            eta_seconds: segmentBuild.secondsLeft === undefined ? null : Math.round(segmentBuild.secondsLeft * 10) / 10,
            elapsed_seconds: Math.round(segmentBuild.elapsedSeconds * 1000) / 1000,
          },
        }
      : {}),
    errors: job.errors,
    ...(job.error ? { error: job.error } : {}),
    ...(job.result ? { result: job.result } : {}),
    created_at: job.createdAt,
    ...(job.startedAt ? { started_at: job.startedAt } : {}),
    ...(job.finishedAt ? { finished_at: job.finishedAt } : {}),
    updated_at: job.updatedAt,
  };
}

function isStream(body: unknown): body is Readable {
  return body !== null && typeof body === 'object' && typeof (body as Readable).pipe === 'function';
}

function mediaType(request: FastifyRequest): string {
  return String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Refuses at once a body whose declared length is over the limit, before reading any of it. */
function declaredLengthWithin(request: FastifyRequest, limit: number): void {
  const declared = Number(request.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new SparrowError('PAYLOAD_TOO_LARGE', `the body is ${declared} bytes; at most ${limit} are accepted`, { limit });
  }
}

function collectionNotFound(name: string): SparrowError {
  return new SparrowError('COLLECTION_NOT_FOUND', `collection ${JSON.stringify(name)} does not exist`, { collection: name });
}

function documentNotFound(collection: string, id: string): SparrowError {
  return new SparrowError('DOCUMENT_NOT_FOUND', `collection ${JSON.stringify(collection)} has no document ${JSON.stringify(id)}`, { collection, id });
}

function describeError(error: FastifyError): { code: string; message: string; details?: Record<string, unknown> } {
  if (error instanceof SparrowError) {
    const code = error.code in ERROR_TABLE ? error.code : 'INTERNAL_ERROR';
    if (code === 'INTERNAL_ERROR') return { code, message: 'internal error' };
    return { code, message: error.message, ...(error.details ? { details: error.details } : {}) };
  }
  if (error.validation) {
    const first = error.validation[0];
    const where = `${error.validationContext ?? 'request'}${first?.instancePath ?? ''}`;
    return { code: 'VALIDATION_FAILED', message: `${where} ${validationMessage(first)}`, details: { errors: error.validation } };
  }
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { code: 'MALFORMED_JSON', message: error.message };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'PAYLOAD_TOO_LARGE', message: error.message };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', message: error.message };
  }
  if (error instanceof SyntaxError) return { code: 'MALFORMED_JSON', message: error.message };
  const code = errorCode(error);
  if (code && code in ERROR_TABLE) return { code, message: error.message, ...(hasDetails(error) ? { details: error.details } : {}) };
  // Anything else Fastify rejects with a 4xx (a bad header, a body on a GET) stays a client error.
  const status = error.statusCode ?? 500;
  if (status === 413) return { code: 'PAYLOAD_TOO_LARGE', message: error.message };
  if (status === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE', message: error.message };
  if (status >= 400 && status < 500) return { code: 'BAD_REQUEST', message: error.message };
  return { code: 'INTERNAL_ERROR', message: 'internal error' };
}

/** The validator's message, naming what it left out: the unknown member, the allowed values. */
function validationMessage(issue: { message?: string; keyword?: string; params?: Record<string, unknown> } | undefined): string {
  if (!issue) return 'is invalid';
  const params = issue.params ?? {};
  if (issue.keyword === 'additionalProperties' && typeof params['additionalProperty'] === 'string') {
    return `has an unknown member ${JSON.stringify(params['additionalProperty'])}`;
  }
  if (issue.keyword === 'enum' && Array.isArray(params['allowedValues'])) {
    return `must be one of ${params['allowedValues'].map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return issue.message ?? 'is invalid';
}

function hasDetails(error: unknown): error is { details: Record<string, unknown> } {
  const details = (error as { details?: unknown }).details;
  return details !== null && typeof details === 'object';
}
