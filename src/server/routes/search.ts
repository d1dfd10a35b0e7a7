import type { FastifyInstance } from 'fastify';
import type { SearchRequest } from '../../engine/collection.js';
import * as schemas from '../schemas.js';
import { highlightRequest, type HttpHighlight } from '../schemas.js';
import type { RouteContext } from './context.js';

export function registerSearch(api: FastifyInstance, ctx: RouteContext): void {
  const { engine, limits } = ctx;
  api.post<{
    Params: { name: string };
    Body: {
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
      const searchRequest: SearchRequest = {
        ...(body.query !== undefined ? { query: body.query } : {}),
        maxQueryTerms: limits.queryTerms,
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
