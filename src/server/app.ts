import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import { SparrowError, errorCode } from '../engine/errors.js';
import { ERROR_TABLE, statusFor } from './errors.js';
import { MAX_K } from '../engine/collection.js';

export interface AppOptions {
  readonly engine: Engine;
  /** pino options, or false to log nothing (tests). */
  readonly logger?: boolean | Record<string, unknown>;
  readonly bodyLimit?: number;
}

const errorBody = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object', additionalProperties: true } },
    },
  },
} as const;

const searchBody = {
  type: 'object',
  required: ['query'],
  additionalProperties: false,
  properties: {
    query: {
      oneOf: [
        { type: 'string', maxLength: 100_000 },
        { type: 'object', additionalProperties: {}, maxProperties: 4096 },
      ],
    },
    k: { type: 'integer', minimum: 1, maximum: MAX_K, default: 10 },
    fields: { oneOf: [{ type: 'boolean' }, { type: 'array', items: { type: 'string' }, maxItems: 256 }] },
    explain: { type: 'boolean', default: false },
  },
} as const;

const searchResponse = {
  type: 'object',
  properties: {
    hits: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          id: { type: 'string' },
          score: { type: 'number' },
          fields: { type: 'object', additionalProperties: true },
          explain: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                term: { type: 'string' },
                field: { type: 'string' },
                queryWeight: { type: 'number' },
                documentValue: { type: 'number' },
                score: { type: 'number' },
              },
            },
          },
        },
      },
    },
    took_ms: { type: 'number' },
    unknown_terms: { type: 'array', items: { type: 'string' } },
    warnings: { type: 'array', items: { type: 'string' } },
  },
} as const;

/** Builds the HTTP application over an open engine. It never listens: callers (serve, tests) do. */
export function buildApp(options: AppOptions): FastifyInstance {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 10 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  const { engine } = options;

  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { code, message, details } = describeError(error);
    const status = statusFor(code);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    void reply.status(status).send({ error: { code, message, ...(details ? { details } : {}) } });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'ROUTE_NOT_FOUND', message: `no route for ${request.method} ${request.url}` } });
  });

  app.get('/health', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({
    status: 'ok',
  }));

  app.post<{ Params: { name: string }; Body: { query: string | Record<string, number>; k: number; fields?: boolean | string[]; explain: boolean } }>(
    '/collections/:name/search',
    {
      schema: {
        params: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
        body: searchBody,
        response: { 200: searchResponse, '4xx': errorBody },
      },
    },
    async (request) => {
      const collection = engine.collection(request.params.name);
      return collection.search({
        query: request.body.query,
        k: request.body.k,
        fields: request.body.fields ?? true,
        explain: request.body.explain,
      });
    },
  );

  return app;
}

function describeError(error: FastifyError): { code: string; message: string; details?: Record<string, unknown> } {
  if (error instanceof SparrowError) return { code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
  if (error.validation) {
    return { code: 'VALIDATION_FAILED', message: `${error.validationContext ?? 'request'} ${error.validation[0]?.message ?? 'is invalid'}`, details: { errors: error.validation } };
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
  if (code && code in ERROR_TABLE) return { code, message: error.message };
  return { code: 'INTERNAL_ERROR', message: 'internal error' };
}
