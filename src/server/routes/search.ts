import type { FastifyInstance } from 'fastify';
import type { SearchRequest } from '../../engine/collection.js';
import type { FacetRequest } from '../../engine/facets.js';
import * as schemas from '../schemas.js';
import { highlightRequest, type HttpHighlight } from '../schemas.js';
import type { RouteContext } from './context.js';
import { errorCode } from '../../common/errors.js';
import { ERROR_TABLE, statusFor } from '../errors.js';

export function registerSearch(api: FastifyInstance, ctx: RouteContext): void {
  const { engine, limits } = ctx;
  api.post<{
    Params: { name: string };
    Body: SearchBody;
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
      return collection.searchAsync(searchRequestOf(body, limits.queryTerms));
    },
  );

  const single = schemas.searchBodySchema(limits);
  api.post<{ Body: { searches: (SearchBody & { collection: string })[] } }>(
    '/_msearch',
    {
      config: { access: 'read' },
      schema: {
        tags: ['search'],
        summary: 'Several searches in one request, each answered as if sent alone.',
        description: `At most ${MAX_SEARCHES} searches, over any collections; a search that fails when it runs (an unknown collection, a refused query) answers its own error (code, message, status) in its place; a malformed one fails the request, as it would alone.`,
        body: {
          type: 'object',
          required: ['searches'],
          additionalProperties: false,
          properties: {
            searches: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_SEARCHES,
              items: { ...single, required: ['collection'], properties: { collection: { type: 'string', maxLength: 128 }, ...single.properties } },
            },
          },
        },
      },
    },
    async (request) => {
      const responses = [];
      for (const { collection: name, ...body } of request.body.searches) {
        try {
          responses.push(await engine.collection(name).searchAsync(searchRequestOf(body, limits.queryTerms)));
        } catch (error) {
          const code = errorCode(error);
          if (!code || !(code in ERROR_TABLE)) throw error;
          responses.push({ error: { code, message: (error as Error).message }, status: statusFor(code) });
        }
      }
      return { responses };
    },
  );

  api.post<{ Params: { name: string }; Body: { query?: string | Record<string, number>; filter?: Record<string, unknown> } }>(
    '/collections/:name/_count',
    {
      config: { access: 'read' },
      schema: {
        tags: ['search'],
        summary: 'How many documents match a query and a filter (all of them without either).',
        params: schemas.collectionParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: { query: single.properties.query, filter: single.properties.filter },
        },
      },
    },
    async (request) => {
      const collection = engine.collection(request.params.name);
      const { query, filter } = request.body ?? {};
      if (query === undefined) return { count: collection.scan({ ...(filter ? { filter } : {}), offset: 0, limit: 0 }).total };
      // Exact mode counts every match (the approximate index stops early).
      const answer = await collection.searchAsync({ query, k: 1, mode: 'exact', retrieval: 'sparse', fields: false, maxQueryTerms: limits.queryTerms, ...(filter ? { filter } : {}) });
      return { count: answer.total?.value ?? 0 };
    },
  );
}

/** Searches one multi-search request may hold. */
const MAX_SEARCHES = 100;

/** The search body as it arrives over HTTP (snake_case; defaults filled in by the schema). */
type SearchBody = {
  query?: string | Record<string, number>;
  dense_vector?: number[];
  retrieval?: 'auto' | 'sparse' | 'dense' | 'hybrid';
  fusion?: Record<string, unknown>;
  k: number;
  from: number;
  fields?: boolean | string[];
  explain: boolean;
  filter?: Record<string, unknown>;
  mode?: 'auto' | 'exact' | 'approximate' | 'safe';
  approximate?: { query_cut?: number; heap_factor?: number; knn?: number };
  highlight?: HttpHighlight;
  facets?: Record<string, FacetRequest>;
};

/** The engine's search request from the HTTP body: one mapping for search and multi-search. */
function searchRequestOf(body: SearchBody, maxQueryTerms: number): SearchRequest {
  return {
    ...(body.query !== undefined ? { query: body.query } : {}),
    maxQueryTerms,
    ...(body.dense_vector !== undefined ? { denseVector: body.dense_vector } : {}),
    ...(body.retrieval !== undefined ? { retrieval: body.retrieval } : {}),
    ...(body.fusion !== undefined ? { fusion: body.fusion } : {}),
    k: body.k,
    from: body.from,
    fields: body.fields ?? true,
    explain: body.explain,
    ...(body.filter !== undefined ? { filter: body.filter } : {}),
    ...(body.mode !== undefined ? { mode: body.mode } : {}),
    ...(body.highlight !== undefined ? { highlight: highlightRequest(body.highlight) } : {}),
    ...(body.facets !== undefined ? { facets: body.facets } : {}),
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
}
