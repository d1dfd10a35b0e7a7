import type { Engine } from '../engine/engine.js';
import { errorCode } from '../common/errors.js';
import type { EncoderPool } from '../jobs/encoder-pool.js';
import { BulkWriter, type WriteOutcome } from '../jobs/bulk-writer.js';
import { checkId, checkSource, generatedId, mergeDocument, sameJson, sourceOf } from './documents.js';
import { fromSparrowError, illegalArgument, OpenSearchError } from './errors.js';
import type { OpenSearchIndex } from './search.js';

type Action = 'index' | 'create' | 'update' | 'delete';
const ACTIONS: readonly Action[] = ['index', 'create', 'update', 'delete'];
const METADATA = ['_index', '_id', 'routing', 'pipeline', 'require_alias', 'retry_on_conflict', '_source', 'if_seq_no', 'if_primary_term', 'version', 'version_type', 'dynamic_templates'];
/** Metadata OpenSearch acts on that sparrow cannot honour: refused, never ignored. */
const REFUSED_METADATA = ['if_seq_no', 'if_primary_term', 'version', 'version_type', 'pipeline', 'routing', '_source', 'dynamic_templates'];

interface ParsedItem {
  readonly action: Action;
  readonly index: string;
  readonly id: string | undefined;
  readonly line: number;
  readonly source?: unknown;
  /** A source line that is not JSON fails its item alone, as in OpenSearch. */
  readonly sourceError?: string;
}

function malformed(line: number, detail: string): OpenSearchError {
  return illegalArgument(`Malformed action/metadata line [${line}], ${detail}`);
}

/**
 * Parses a whole _bulk body before anything is applied: a broken action line, an unknown action,
 * a missing source line or a missing index fails the request (400, nothing written), as OpenSearch
 * does; a bad document fails only its own item.
 */
export function parseBulk(text: string, defaultIndex: string | undefined): ParsedItem[] {
  if (text.length === 0) throw new OpenSearchError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
  if (!text.endsWith('\n')) throw illegalArgument('The bulk request must be terminated by a newline [\\n]');
  const lines = text.split('\n');
  lines.pop();
  const items: ParsedItem[] = [];
  const missingIndex: number[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim().length === 0) continue;
    const line = i + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      throw malformed(line, 'expected START_OBJECT but found a line that is not JSON');
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw malformed(line, `expected START_OBJECT but found [${Array.isArray(parsed) ? 'START_ARRAY' : 'VALUE'}]`);
    const keys = Object.keys(parsed);
    if (keys.length !== 1) throw malformed(line, keys.length === 0 ? 'expected FIELD_NAME but found [END_OBJECT]' : 'expected END_OBJECT but found [FIELD_NAME]');
    const action = keys[0] as Action;
    if (!ACTIONS.includes(action)) throw malformed(line, `expected field [create], [delete], [index] or [update] but found [${keys[0]}]`);
    const metadata = (parsed as Record<string, unknown>)[action];
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) throw malformed(line, 'expected START_OBJECT after the action name');
    for (const key of Object.keys(metadata)) {
      if (!METADATA.includes(key)) throw illegalArgument(`Action/metadata line [${line}] contains an unknown parameter [${key}]`);
      if (REFUSED_METADATA.includes(key)) throw illegalArgument(`sparrow does not support [${key}] in bulk action lines (line [${line}])`);
    }
    const m = metadata as Record<string, unknown>;
    const index = (m['_index'] as string | undefined) ?? defaultIndex;
    if (index === undefined) missingIndex.push(items.length + 1);
    const id = m['_id'] === undefined ? undefined : checkId(m['_id']);
    if (id === undefined && (action === 'delete' || action === 'update')) {
      throw new OpenSearchError(400, 'action_request_validation_exception', `Validation Failed: 1: id is missing for ${action === 'delete' ? 'delete' : 'update'} on line [${line}];`);
    }
    if (action === 'delete') {
      items.push({ action, index: index ?? '', id, line });
      continue;
    }
    // The next line is the document (index, create) or the update body.
    i++;
    if (i >= lines.length || lines[i]!.trim().length === 0) {
      throw illegalArgument(`The bulk action [${action}] on line [${line}] has no source line after it`);
    }
    try {
      items.push({ action, index: index ?? '', id, line, source: JSON.parse(lines[i]!) });
    } catch (error) {
      items.push({ action, index: index ?? '', id, line, sourceError: (error as Error).message });
    }
  }
  if (missingIndex.length > 0) {
    throw new OpenSearchError(400, 'action_request_validation_exception', `Validation Failed: ${missingIndex.map((n, i) => `${i + 1}: index is missing;`).join(' ')}`);
  }
  if (items.length === 0) throw new OpenSearchError(400, 'action_request_validation_exception', 'Validation Failed: 1: no requests added;');
  return items;
}

export interface BulkContext {
  readonly engine: Engine;
  readonly pool: EncoderPool;
  readonly resolve: (name: string) => OpenSearchIndex;
}

const SHARDS = { total: 1, successful: 1, failed: 0 };

/** One item's answer in OpenSearch's shape. */
function itemError(action: Action, index: string, id: string | undefined, error: OpenSearchError): Record<string, unknown> {
  return { [action]: { _index: index, _id: id ?? null, status: error.status, error: { type: error.type, reason: error.reason, index, shard: '0' } } };
}

/** Applies a parsed bulk body in order; returns OpenSearch's response (per-item results and errors). */
export async function applyOpenSearchBulk(context: BulkContext, items: readonly ParsedItem[]): Promise<Record<string, unknown>> {
  const started = process.hrtime.bigint();
  const results: Record<string, unknown>[] = new Array(items.length);
  const writers = new Map<string, { writer: BulkWriter; index: OpenSearchIndex }>();
  const writerFor = (name: string): { writer: BulkWriter; index: OpenSearchIndex } => {
    let entry = writers.get(name);
    if (!entry) {
      const index = context.resolve(name);
      entry = { writer: new BulkWriter(context.engine, index.collection.name, context.pool), index };
      writers.set(name, entry);
    }
    return entry;
  };
  const written = (slot: number, action: Action, index: OpenSearchIndex, id: string, created: boolean) => (outcome: WriteOutcome) => {
    if (outcome.result === 'error') {
      results[slot] = itemError(action, index.name, id, new OpenSearchError(400, 'mapper_parsing_exception', outcome.message, { 'sparrow.code': outcome.code }));
      return;
    }
    const doc = index.collection.get(id);
    results[slot] = { [action]: { _index: index.name, _id: id, _version: doc?.version ?? 1, result: created ? 'created' : 'updated', _shards: SHARDS, _seq_no: doc?.docNumber ?? 0, _primary_term: 1, status: created ? 201 : 200 } };
  };

  for (let slot = 0; slot < items.length; slot++) {
    const item = items[slot]!;
    let entry: { writer: BulkWriter; index: OpenSearchIndex };
    try {
      entry = writerFor(item.index);
    } catch (error) {
      results[slot] = itemError(item.action, item.index, item.id, fromSparrowError(error));
      continue;
    }
    const { writer, index } = entry;
    try {
      if (item.sourceError !== undefined) throw new OpenSearchError(400, 'mapper_parsing_exception', `failed to parse: ${item.sourceError}`);
      switch (item.action) {
        case 'index':
        case 'create': {
          const id = item.id ?? generatedId();
          const source = checkSource(index, id, item.source);
          const exists = writer.exists(id);
          if (item.action === 'create' && exists) {
            const version = index.collection.get(id)?.version ?? 1;
            throw new OpenSearchError(409, 'version_conflict_engine_exception', `[${id}]: version conflict, document already exists (current version [${version}])`);
          }
          await writer.upsert({ id, fields: source }, item.line, written(slot, item.action, index, id, !exists));
          break;
        }
        case 'update': {
          const id = item.id!;
          const body = item.source as Record<string, unknown> | null;
          if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new OpenSearchError(400, 'x_content_parse_exception', 'the update body must be an object');
          for (const key of Object.keys(body)) {
            if (!['doc', 'doc_as_upsert', 'upsert', 'detect_noop'].includes(key)) {
              throw key === 'script' ? illegalArgument('sparrow does not support scripted updates') : new OpenSearchError(400, 'x_content_parse_exception', `[UpdateRequest] unknown field [${key}]`);
            }
          }
          // What is queued must be written before the document can be read back.
          await writer.flush();
          const current = index.collection.get(id);
          let next: Record<string, unknown>;
          if (!current) {
            if (body['doc_as_upsert'] === true && body['doc'] !== undefined) next = body['doc'] as Record<string, unknown>;
            else if (body['upsert'] !== undefined) next = body['upsert'] as Record<string, unknown>;
            else throw new OpenSearchError(404, 'document_missing_exception', `[${id}]: document missing`);
          } else {
            if (body['doc'] === undefined || body['doc'] === null || typeof body['doc'] !== 'object') throw illegalArgument('Validation Failed: 1: script or doc is missing;');
            const full = sourceOf(index, id, current.fields);
            next = mergeDocument(full, body['doc'] as Record<string, unknown>);
            if (body['detect_noop'] !== false && sameJson(next, full)) {
              results[slot] = { update: { _index: index.name, _id: id, _version: current.version, result: 'noop', _shards: { total: 0, successful: 0, failed: 0 }, _seq_no: current.docNumber, _primary_term: 1, status: 200 } };
              break;
            }
          }
          const source = checkSource(index, id, next);
          await writer.upsert({ id, fields: source }, item.line, written(slot, 'update', index, id, !current));
          break;
        }
        case 'delete': {
          const id = item.id!;
          const before = index.collection.get(id);
          const existed = await writer.delete(id);
          results[slot] = {
            delete: {
              _index: index.name,
              _id: id,
              _version: (before?.version ?? 0) + 1,
              result: existed ? 'deleted' : 'not_found',
              _shards: SHARDS,
              _seq_no: before?.docNumber ?? 0,
              _primary_term: 1,
              status: existed ? 200 : 404,
            },
          };
          break;
        }
      }
    } catch (error) {
      if (errorCode(error) === 'COLLECTION_NOT_FOUND') {
        results[slot] = itemError(item.action, item.index, item.id, fromSparrowError(error));
        continue;
      }
      results[slot] = itemError(item.action, index.name, item.id, fromSparrowError(error));
    }
  }
  for (const { writer } of writers.values()) await writer.flush();
  return {
    took: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
    errors: results.some((r) => {
      const inner = Object.values(r)[0] as { error?: unknown };
      return inner.error !== undefined;
    }),
    items: results,
  };
}
