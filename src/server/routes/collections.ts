import fs from 'node:fs';
import path from 'node:path';
import { SparrowError } from '../../common/errors.js';
import type { FastifyInstance } from 'fastify';
import * as schemas from '../schemas.js';
import type { RouteContext } from './context.js';
import { collectionNotFound } from '../http.js';

export function registerCollections(api: FastifyInstance, ctx: RouteContext): void {
  const { engine, jobs } = ctx;
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
      return collectionDetail(ctx, collection.name);
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
    async (request) => collectionDetail(ctx, request.params.name),
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

function collectionDetail(ctx: RouteContext, name: string) {
  const { engine } = ctx;
  const collection = engine.collection(name);
  const statistics = collection.statistics();
  const segments = collection.segmentStatistics();
  const documentBytes = engine.store.storedDocumentBytes(collection.record.id);
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

/** PATCH /collections/NAME: index settings that can change without a rebuild. */
export function registerSettings(api: FastifyInstance, ctx: RouteContext): void {
  const { engine } = ctx;
  api.patch<{ Params: { name: string }; Body: { index?: Record<string, unknown>; encoder?: unknown; dense?: unknown } }>(
    '/collections/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Change index settings that apply without a rebuild.',
        description:
          'index.query (queryCut, heapFactor, knn: the defaults of searches), index.segmentMinDocs, mergeFactor, maxSegmentDocs, filterExactBelow. The encoder, the dense side and index.build shape what is already written: changing them answers SETTING_NEEDS_REBUILD (create a new collection and move an alias).',
        params: schemas.collectionParams,
        body: { type: 'object', additionalProperties: false, properties: { index: { type: 'object' }, encoder: {}, dense: {} } },
      },
    },
    async (request) => {
      const collection = engine.collection(request.params.name);
      for (const key of ['encoder', 'dense'] as const) {
        if (request.body[key] !== undefined) {
          throw new SparrowError('SETTING_NEEDS_REBUILD', `the ${key} shapes every document already written: create a collection with the new one, index into it, and move an alias to it`, { setting: key });
        }
      }
      return { name: collection.name, index: collection.changeSettings(request.body.index ?? {}) };
    },
  );
}

/** Snapshots under DATA_DIR/snapshots/NAME: a consistent copy of a collection while serving, and its restore. */
export function registerSnapshots(api: FastifyInstance, ctx: RouteContext): void {
  const { engine } = ctx;
  const folderOf = (name: string): string => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/u.test(name) || name.includes('..')) {
      throw new SparrowError('INVALID_SNAPSHOT_NAME', `snapshot name ${JSON.stringify(name)} must be 1 to 128 letters, digits, "_", "-" or "." (no "..")`);
    }
    return path.join(engine.dataDir, 'snapshots', name);
  };
  api.post<{ Params: { name: string }; Body: { snapshot: string } }>(
    '/collections/:name/_snapshot',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'A consistent copy of the collection under DATA_DIR/snapshots/SNAPSHOT, taken while the server keeps serving.',
        params: schemas.collectionParams,
        body: { type: 'object', required: ['snapshot'], additionalProperties: false, properties: { snapshot: { type: 'string', maxLength: 128 } } },
      },
    },
    async (request, reply) => {
      const manifest = await engine.snapshot(request.params.name, folderOf(request.body.snapshot));
      void reply.status(201);
      return { snapshot: request.body.snapshot, ...manifest };
    },
  );
  api.post<{ Params: { snapshot: string }; Body: { collection: string } }>(
    '/snapshots/:snapshot/_restore',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'A new collection from a snapshot (its files checked against the manifest first).',
        params: { type: 'object', required: ['snapshot'], properties: { snapshot: { type: 'string', maxLength: 128 } } },
        body: { type: 'object', required: ['collection'], additionalProperties: false, properties: { collection: { type: 'string', maxLength: 128 } } },
      },
    },
    async (request, reply) => {
      const folder = folderOf(request.params.snapshot);
      if (!fs.existsSync(folder)) throw new SparrowError('SNAPSHOT_NOT_FOUND', `snapshot ${JSON.stringify(request.params.snapshot)} does not exist`);
      const collection = engine.restore(folder, request.body.collection);
      void reply.status(201);
      return { collection: collection.name, documents: collection.statistics().documents };
    },
  );
}

/** Aliases: a name that points at one collection; moving it is one statement, so a rebuilt collection is switched to without downtime. */
export function registerAliases(api: FastifyInstance, ctx: RouteContext): void {
  const { engine } = ctx;
  const aliasParams = { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 128 } } } as const;
  const aliasView = { type: 'object', properties: { alias: { type: 'string' }, collection: { type: 'string' } } } as const;
  api.put<{ Params: { name: string }; Body: { collection: string } }>(
    '/aliases/:name',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['collections'],
        summary: 'Point an alias at a collection (create it, or move it in one step).',
        description: 'Searches, reads and writes through the alias reach the collection it points at; moving it is atomic, so a collection rebuilt under a new name is switched to without downtime.',
        params: aliasParams,
        body: { type: 'object', required: ['collection'], additionalProperties: false, properties: { collection: { type: 'string', maxLength: 128 } } },
        response: { 200: aliasView, 201: aliasView, ...schemas.errorResponses },
      },
    },
    async (request, reply) => {
      const result = engine.store.putAlias(request.params.name, request.body.collection);
      void reply.status(result.created ? 201 : 200);
      return { alias: result.alias, collection: result.collection };
    },
  );
  api.get(
    '/aliases',
    { config: { access: 'read' }, schema: { tags: ['collections'], summary: 'Every alias and the collection it points at.', response: { 200: { type: 'object', properties: { aliases: { type: 'array', items: aliasView } } } } } },
    async () => ({ aliases: engine.store.listAliases() }),
  );
  api.get<{ Params: { name: string } }>(
    '/aliases/:name',
    { config: { access: 'read' }, schema: { tags: ['collections'], summary: 'The collection an alias points at.', params: aliasParams, response: { 200: aliasView, ...schemas.errorResponses } } },
    async (request) => {
      const alias = engine.store.getAlias(request.params.name);
      if (!alias) throw new SparrowError('ALIAS_NOT_FOUND', `alias ${JSON.stringify(request.params.name)} does not exist`);
      return alias;
    },
  );
  api.delete<{ Params: { name: string } }>(
    '/aliases/:name',
    { config: { access: 'admin' }, schema: { tags: ['collections'], summary: 'Delete an alias (the collection stays).', params: aliasParams, response: { 200: { type: 'object', properties: { alias: { type: 'string' }, result: { type: 'string' } } }, ...schemas.errorResponses } } },
    async (request) => {
      if (!engine.store.deleteAlias(request.params.name)) throw new SparrowError('ALIAS_NOT_FOUND', `alias ${JSON.stringify(request.params.name)} does not exist`);
      return { alias: request.params.name, result: 'deleted' };
    },
  );
}
