import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Engine } from '../engine/engine.js';
import { SparrowError, errorCode } from '../common/errors.js';
import type { EncoderPool } from '../jobs/encoder-pool.js';
import { applyOpenSearchBulk, parseBulk } from './bulk.js';
import { checkId, checkSource, generatedId, sourceOf } from './documents.js';
import { fromSparrowError, illegalArgument, OpenSearchError, parsingError } from './errors.js';
import { OpenSearchIndices } from './indices.js';
import { countIndex, processorSpec, searchIndex, type OpenSearchIndex } from './search.js';
import { filterSource, sourceSpec } from './source.js';

/** The OpenSearch version the compatible API answers as (its request and response shapes). */
export const COMPATIBLE_VERSION = '2.19.0';

interface RouteOptions {
  readonly engine: Engine;
  readonly pool: EncoderPool;
  readonly bulkBytes: number;
}

function parseJson(request: FastifyRequest): unknown {
  const raw = request.body;
  if (raw === undefined || raw === null || (typeof raw === 'string' && raw.trim().length === 0)) return undefined;
  if (typeof raw !== 'string') return raw;
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new OpenSearchError(400, 'parse_exception', `Failed to parse content to map: ${(error as Error).message}`);
  }
}

type Params = { index: string; id: string; name: string };
type Query = Record<string, string | undefined>;

/**
 * The OpenSearch-compatible API under /_os (docs/opensearch.md): index management, documents,
 * _bulk, _search, _count, search pipelines. Requests and answers, errors included, have
 * OpenSearch's shapes; every clause sparrow does not support is refused by name.
 */
export async function openSearchRoutes(api: FastifyInstance, options: RouteOptions): Promise<void> {
  const { engine, pool } = options;
  const indices = new OpenSearchIndices(engine);
  // Every body is read as text and parsed here, so JSON and NDJSON errors have OpenSearch's shape.
  api.removeAllContentTypeParsers();
  api.addContentTypeParser('*', { parseAs: 'string', bodyLimit: options.bulkBytes }, (_request, body, done) => done(null, body));

  api.setErrorHandler((error, request, reply) => {
    let os: OpenSearchError;
    if (error instanceof OpenSearchError) os = error;
    else if (error instanceof SparrowError || errorCode(error) !== undefined) os = fromSparrowError(error);
    else if ((error as { statusCode?: number }).statusCode === 413) os = new OpenSearchError(413, 'content_too_long_exception', (error as Error).message);
    else if ((error as { statusCode?: number }).statusCode !== undefined && (error as { statusCode: number }).statusCode < 500) os = illegalArgument((error as Error).message);
    else {
      request.log.error({ err: error }, 'request failed');
      os = new OpenSearchError(500, 'exception', 'internal error');
    }
    if (os.status === 401) void reply.header('www-authenticate', 'Bearer');
    void reply.status(os.status).send(os.body());
  });
  api.setNotFoundHandler((request, reply) => {
    void reply.status(400).send({ error: `no handler found for uri [${request.url.replace(/^\/_os/u, '') || '/'}] and method [${request.method}]` });
  });

  // Left out of sparrow's OpenAPI document: OpenSearch documents this API.
  const read = { config: { access: 'read' }, schema: { hide: true } } as const;
  const write = { config: { access: 'write' }, schema: { hide: true } } as const;
  const admin = { config: { access: 'admin' }, schema: { hide: true } } as const;
  const shards = { total: 1, successful: 1, failed: 0 };

  api.get('/', read, async () => ({
    name: 'sparrow',
    cluster_name: 'sparrow',
    cluster_uuid: 'sparrow',
    version: { distribution: 'opensearch', number: COMPATIBLE_VERSION, build_type: 'sparrow', lucene_version: '8.11.0', minimum_wire_compatibility_version: COMPATIBLE_VERSION, minimum_index_compatibility_version: COMPATIBLE_VERSION },
    tagline: 'The OpenSearch Project: https://opensearch.org/ (answered by sparrow)',
  }));

  // ---- indices -------------------------------------------------------------------------------
  api.put<{ Params: Params }>('/:index', admin, async (request) => {
    const index = indices.create(request.params.index, parseJson(request));
    return { acknowledged: true, shards_acknowledged: true, index: index.name };
  });
  // Fastify answers HEAD from these GET routes (indices.exists, exists): same status, no body.
  api.get<{ Params: Params }>('/:index', read, async (request) => {
    const index = indices.resolve(request.params.index);
    return { [index.name]: { aliases: {}, mappings: index.plan.mapping, settings: indexSettingsView(index) } };
  });
  api.delete<{ Params: Params }>('/:index', admin, async (request) => {
    indices.resolve(request.params.index);
    engine.deleteCollection(request.params.index);
    return { acknowledged: true };
  });
  api.get<{ Params: Params }>('/:index/_mapping', read, async (request) => {
    const index = indices.resolve(request.params.index);
    return { [index.name]: { mappings: index.plan.mapping } };
  });
  for (const method of ['PUT', 'POST'] as const) {
    api.route<{ Params: Params }>({
      method,
      url: '/:index/_mapping',
      ...admin,
      handler: async (request) => {
        indices.updateMapping(indices.resolve(request.params.index), parseJson(request));
        return { acknowledged: true };
      },
    });
  }
  api.get<{ Params: Params }>('/:index/_settings', read, async (request) => {
    const index = indices.resolve(request.params.index);
    return { [index.name]: { settings: indexSettingsView(index) } };
  });
  api.get<{ Querystring: Query }>('/_cat/indices', read, async (request, reply) => catIndices(indices.list(), request.query, reply));
  api.get<{ Params: Params; Querystring: Query }>('/_cat/indices/:index', read, async (request, reply) => catIndices([indices.resolve(request.params.index)], request.query, reply));
  for (const url of ['/_refresh', '/:index/_refresh']) {
    api.route<{ Params: Params }>({
      method: ['GET', 'POST'],
      url,
      ...read,
      // Writes are searchable once acknowledged: there is nothing to refresh.
      handler: async (request) => {
        if (request.params.index !== undefined) indices.resolve(request.params.index);
        return { _shards: shards };
      },
    });
  }

  // ---- documents -----------------------------------------------------------------------------
  const writeOne = async (index: OpenSearchIndex, id: string, source: Record<string, unknown>, opType: 'index' | 'create', reply: FastifyReply) => {
    const response = await applyOpenSearchBulk({ engine, pool, resolve: (name) => indices.resolve(name) }, [{ action: opType, index: index.name, id, line: 1, source }]);
    const item = (response['items'] as Record<string, Record<string, unknown>>[])[0]![opType]!;
    if (item['error']) {
      const e = item['error'] as { type: string; reason: string };
      throw new OpenSearchError(item['status'] as number, e.type, e.reason, { index: index.name });
    }
    const { status, ...rest } = item;
    void reply.status(status as number);
    return rest;
  };
  const refreshParam = (query: Query): void => {
    const refresh = query['refresh'];
    if (refresh !== undefined && !['', 'true', 'false', 'wait_for'].includes(refresh)) throw illegalArgument(`Unknown value for refresh: [${refresh}].`);
  };
  /** The write of a document by id: op_type from the URL (_create) or the query (_doc?op_type=create). */
  const opTypeOf = (url: string, query: Query): 'index' | 'create' => {
    if (url.includes('/_create/')) return 'create';
    const opType = query['op_type'];
    if (opType !== undefined && opType !== 'create' && opType !== 'index') throw illegalArgument(`opType must be 'create' or 'index', found: [${opType}]`);
    return opType === 'create' ? 'create' : 'index';
  };
  for (const method of ['PUT', 'POST'] as const) {
    for (const url of ['/:index/_doc/:id', '/:index/_create/:id']) {
      api.route<{ Params: Params; Querystring: Query }>({
        method,
        url,
        ...write,
        handler: async (request, reply) => {
          refreshParam(request.query);
          const index = indices.resolve(request.params.index);
          const opType = opTypeOf(url, request.query);
          const id = checkId(request.params.id);
          return writeOne(index, id, checkSource(index, id, parseJson(request)), opType, reply);
        },
      });
    }
  }
  api.post<{ Params: Params; Querystring: Query }>('/:index/_doc', write, async (request, reply) => {
    refreshParam(request.query);
    const index = indices.resolve(request.params.index);
    const id = generatedId();
    return writeOne(index, id, checkSource(index, id, parseJson(request)), 'create', reply);
  });
  api.get<{ Params: Params; Querystring: Query }>('/:index/_doc/:id', read, async (request, reply) => {
    const index = indices.resolve(request.params.index);
    const doc = index.collection.get(request.params.id);
    if (!doc) {
      void reply.status(404);
      return { _index: index.name, _id: request.params.id, found: false };
    }
    const source = filterSource(sourceOf(index, doc.id, doc.fields), sourceSpec(request.query['_source'], { includes: request.query['_source_includes'], excludes: request.query['_source_excludes'] }));
    return { _index: index.name, _id: doc.id, _version: doc.version, _seq_no: doc.docNumber, _primary_term: 1, found: true, ...(source ? { _source: source } : {}) };
  });
  api.delete<{ Params: Params; Querystring: Query }>('/:index/_doc/:id', write, async (request, reply) => {
    refreshParam(request.query);
    const index = indices.resolve(request.params.index);
    const before = index.collection.get(request.params.id);
    const existed = index.collection.delete([request.params.id]) > 0;
    void reply.status(existed ? 200 : 404);
    return { _index: index.name, _id: request.params.id, _version: (before?.version ?? 0) + 1, result: existed ? 'deleted' : 'not_found', _shards: shards, _seq_no: before?.docNumber ?? 0, _primary_term: 1 };
  });
  api.post<{ Params: Params; Querystring: Query }>('/:index/_update/:id', write, async (request, reply) => {
    refreshParam(request.query);
    const index = indices.resolve(request.params.index);
    const body = parseJson(request);
    const response = await applyOpenSearchBulk({ engine, pool, resolve: (name) => indices.resolve(name) }, [{ action: 'update', index: index.name, id: checkId(request.params.id), line: 1, source: body }]);
    const item = (response['items'] as Record<string, Record<string, unknown>>[])[0]!['update']!;
    if (item['error']) {
      const e = item['error'] as { type: string; reason: string };
      throw new OpenSearchError(item['status'] as number, e.type, e.reason, { index: index.name, shard: '0' });
    }
    const { status, ...rest } = item;
    void reply.status(status as number);
    return rest;
  });
  for (const url of ['/_bulk', '/:index/_bulk']) {
    api.route<{ Params: Params; Querystring: Query }>({
      method: ['POST', 'PUT'],
      url,
      ...write,
      handler: async (request) => {
        refreshParam(request.query);
        const text = typeof request.body === 'string' ? request.body : '';
        const items = parseBulk(text, request.params.index);
        return applyOpenSearchBulk({ engine, pool, resolve: (name) => indices.resolve(name) }, items);
      },
    });
  }

  // ---- search --------------------------------------------------------------------------------
  const pipelines = {
    pipeline: (name: string) => engine.store.getSearchPipeline(name),
  };
  for (const url of ['/:index/_search']) {
    api.route<{ Params: Params; Querystring: Query }>({
      method: ['GET', 'POST'],
      url,
      ...read,
      handler: async (request) => {
        const index = indices.resolve(request.params.index);
        return searchIndex(index, parseJson(request), request.query, pipelines);
      },
    });
  }
  api.route<{ Params: Params }>({
    method: ['GET', 'POST'],
    url: '/:index/_count',
    ...read,
    handler: async (request) => countIndex(indices.resolve(request.params.index), parseJson(request)),
  });

  // ---- search pipelines ----------------------------------------------------------------------
  api.put<{ Params: Params }>('/_search/pipeline/:name', admin, async (request) => {
    const body = parseJson(request);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw parsingError('a search pipeline must be an object');
    // Checked now, so a pipeline that cannot run is refused when stored, not at the first search.
    const processors = (body as Record<string, unknown>)['phase_results_processors'];
    const first = Array.isArray(processors) ? (processors[0] as Record<string, Record<string, unknown>> | undefined) : undefined;
    const weights = first ? ((Object.values(first)[0]?.['combination'] as Record<string, unknown> | undefined)?.['parameters'] as Record<string, unknown> | undefined)?.['weights'] : undefined;
    processorSpec(body, Array.isArray(weights) ? weights.length : 2);
    engine.store.putSearchPipeline(request.params.name, body as Record<string, unknown>);
    return { acknowledged: true };
  });
  api.get<{ Params: Params }>('/_search/pipeline/:name', read, async (request, reply) => {
    const body = engine.store.getSearchPipeline(request.params.name);
    if (!body) {
      void reply.status(404);
      return {};
    }
    return { [request.params.name]: body };
  });
  api.get('/_search/pipeline', read, async () => engine.store.listSearchPipelines());
  api.delete<{ Params: Params }>('/_search/pipeline/:name', admin, async (request) => {
    if (!engine.store.deleteSearchPipeline(request.params.name)) throw new OpenSearchError(404, 'resource_not_found_exception', `pipeline [${request.params.name}] is missing`);
    return { acknowledged: true };
  });
}

function indexSettingsView(index: OpenSearchIndex): Record<string, unknown> {
  const given = Object.fromEntries(Object.entries(index.settings).map(([k, v]) => [k.replace(/^index\./u, ''), String(v)]));
  return {
    index: {
      number_of_shards: '1',
      number_of_replicas: '0',
      provided_name: index.name,
      creation_date: String(Date.parse(index.collection.record.createdAt)),
      uuid: String(index.collection.record.id),
      version: { created: '136408127' },
      ...given,
    },
  };
}

function catIndices(list: OpenSearchIndex[], query: Query, reply: FastifyReply) {
  const rows = list.map((index) => {
    const stats = index.collection.statistics();
    return { health: 'green', status: 'open', index: index.name, uuid: String(index.collection.record.id), pri: '1', rep: '0', 'docs.count': String(stats.documents), 'docs.deleted': '0' };
  });
  if (query['format'] === 'json') return rows;
  void reply.type('text/plain; charset=utf-8');
  const header = query['v'] !== undefined ? 'health status index uuid pri rep docs.count docs.deleted\n' : '';
  return header + rows.map((r) => `${r.health} ${r.status} ${r.index} ${r.uuid} ${r.pri} ${r.rep} ${r['docs.count']} ${r['docs.deleted']}`).join('\n') + (rows.length ? '\n' : '');
}

