import type { Readable } from 'node:stream';
import { ERROR_TABLE } from '../errors.js';
import type { FastifyInstance } from 'fastify';
import { toIngestDocument } from '../../engine/documents.js';
import { SparrowError } from '../../common/errors.js';
import { applyBulk } from '../bulk.js';
import * as schemas from '../schemas.js';
import type { RouteContext } from './context.js';
import { isStream, declaredLengthWithin, documentNotFound } from '../http.js';

export function registerDocuments(api: FastifyInstance, ctx: RouteContext): void {
  const { engine, pool, limits, metrics } = ctx;
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
  api.get<{ Params: { name: string; id: string }; Querystring: { fields?: string } }>(
    '/collections/:name/documents/:id',
    {
      config: { access: 'read' },
      schema: {
        tags: ['documents'],
        summary: 'One document\'s stored fields.',
        params: schemas.documentParams,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { fields: { type: 'string', maxLength: 8192, description: 'Stored fields to return, comma-separated (default: all), as "fields" in a search.' } },
        },
        response: { 200: schemas.documentResponse, ...schemas.errorResponses },
      },
    },
    async (request) => {
      const { name, id } = request.params;
      const document = engine.collection(name).get(id);
      if (!document) throw documentNotFound(name, id);
      const wanted = request.query.fields?.split(',').map((f) => f.trim()).filter((f) => f.length > 0);
      if (!wanted) return document;
      return { id: document.id, fields: Object.fromEntries(wanted.filter((f) => f in document.fields).map((f) => [f, document.fields[f]])) };
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
