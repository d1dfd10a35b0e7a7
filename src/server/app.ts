import path from 'node:path';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { Engine } from '../engine/engine.js';
import { SparrowError, errorCode } from '../common/errors.js';
import { checkFilter } from '../engine/filter.js';
import { EncoderPool } from '../jobs/encoder-pool.js';
import { JobManager } from '../jobs/manager.js';
import { ApiKeys, presentedKey, type Access } from './auth.js';
import { ERROR_TABLE, statusFor } from './errors.js';
import { Metrics } from './metrics.js';
import { RateLimiter, type RateLimitSettings } from './rate-limit.js';
import * as schemas from './schemas.js';
import { openSearchRoutes } from '../opensearch/routes.js';
import { recallTuner } from '../eval/recall-tune.js';
import type { RouteContext } from './routes/context.js';
import { registerAliases, registerCollections, registerSettings, registerSnapshots } from './routes/collections.js';
import { registerDocuments } from './routes/documents.js';
import { registerJobs } from './routes/jobs.js';
import { registerOperations } from './routes/operations.js';
import { registerPage } from './routes/page.js';
import { registerSearch } from './routes/search.js';
export { jobView } from './http.js';

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
    tuner: recallTuner,
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
    const { code, message, details } = filterError(error, request) ?? describeError(error);
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

  const context: RouteContext = { engine, jobs, pool, limits, metrics, keys, roles, isClosing: () => closing, isReady: () => options.isReady?.() ?? true };
  void app.register(async (api) => {
    registerOperations(api, context);
    registerCollections(api, context);
    registerAliases(api, context);
    registerSettings(api, context);
    registerSnapshots(api, context);
    registerDocuments(api, context);
    registerSearch(api, context);
    registerJobs(api, context);
    registerPage(api, context);
  });

  return app;
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

/**
 * A search filter the schema refused gets the filter grammar's own coded message (what the CLI
 * says: 'unknown operator "$gte" on year; use ...'), not the validator's account of the schema.
 */
function filterError(error: FastifyError, request: FastifyRequest): { code: string; message: string; details?: Record<string, unknown> } | undefined {
  const first = error.validation?.[0];
  if (error.validationContext !== 'body' || !first?.instancePath.startsWith('/filter')) return undefined;
  try {
    checkFilter((request.body as { filter?: unknown } | undefined)?.filter);
  } catch (refusal) {
    const code = errorCode(refusal);
    if (code) return { code, message: (refusal as Error).message };
  }
  return undefined;
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
