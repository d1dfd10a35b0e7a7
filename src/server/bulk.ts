import type { Readable } from 'node:stream';
import { toIngestDocument } from '../engine/documents.js';
import type { Engine } from '../engine/engine.js';
import { SparrowError, errorCode } from '../common/errors.js';
import type { EncoderPool } from '../jobs/encoder-pool.js';
import { readJsonLines } from '../common/json-lines.js';
import { byteLimit } from '../common/streams.js';
import { BulkWriter } from '../jobs/bulk-writer.js';

export type BulkItem =
  | { line: number; id: string; result: 'upserted' | 'deleted' | 'not_found' }
  | { line: number; id?: string; result: 'error'; error: { code: string; message: string } };

export interface BulkResponse {
  took_ms: number;
  errors: boolean;
  indexed: number;
  updated: number;
  deleted: number;
  not_found: number;
  failed: number;
  items: BulkItem[];
}

export interface BulkOptions {
  readonly pool: EncoderPool;
  readonly maxBytes: number;
  readonly maxLineBytes: number;
  readonly maxLines: number;
  readonly batchSize?: number;
}

/** Stored-field names with a meaning in bulk lines; they are not stored. */
const OPERATION_FIELD = '_op';

/**
 * Applies an NDJSON body of upserts (`{"id": ..., fields}`) and deletes (`{"_op": "delete", "id": ...}`)
 * in order. Upserts are encoded in the worker pool and committed a batch per transaction; a bad
 * line fails alone and is reported with its line number. Every line answered as done is committed.
 */
export async function applyBulk(engine: Engine, collectionName: string, body: Readable, options: BulkOptions): Promise<BulkResponse> {
  const started = process.hrtime.bigint();
  const response: BulkResponse = { took_ms: 0, errors: false, indexed: 0, updated: 0, deleted: 0, not_found: 0, failed: 0, items: [] };
  const writer = new BulkWriter(engine, collectionName, options.pool, options.batchSize ?? 1000);

  const fail = (line: number, code: string, message: string, id?: string): void => {
    response.failed++;
    response.items.push({ line, ...(id !== undefined ? { id } : {}), result: 'error', error: { code, message } });
  };
  const flush = (): Promise<void> => writer.flush();

  let lines = 0;
  let lastLine = 0;
  const limited = body.pipe(byteLimit(options.maxBytes));
  body.on('error', (error) => limited.destroy(error));
  // Lines before the limit was crossed are whole and are applied; the answer says how far it got.
  const tooLarge = async (message: string, limit: number): Promise<never> => {
    await flush();
    throw new SparrowError('PAYLOAD_TOO_LARGE', `${message}; lines 1 to ${lastLine} were applied`, { limit, applied_through_line: lastLine });
  };
  try {
    for await (const entry of readJsonLines(limited, { maxLineBytes: options.maxLineBytes })) {
      lines++;
      if (lines > options.maxLines) await tooLarge(`a bulk request may hold at most ${options.maxLines} lines`, options.maxLines);
      lastLine = entry.line;
      await applyLine(entry);
    }
  } catch (error) {
    if (errorCode(error) === 'PAYLOAD_TOO_LARGE' && (error as SparrowError).details?.['applied_through_line'] === undefined) {
      await tooLarge(`the bulk body is larger than ${options.maxBytes} bytes`, options.maxBytes);
    }
    throw error;
  }
  await flush();
  response.indexed = writer.inserted;
  response.updated = writer.updated;
  response.errors = response.failed > 0;
  response.items.sort((a, b) => a.line - b.line);
  response.took_ms = Math.round(Number(process.hrtime.bigint() - started) / 1000) / 1000;
  return response;

  async function applyLine(entry: { line: number; value?: unknown; error?: { code: string; message: string } }): Promise<void> {
    if (entry.error) {
      fail(entry.line, entry.error.code, entry.error.message);
      return;
    }
    const value = entry.value;
    const op = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>)[OPERATION_FIELD] : undefined;
    try {
      if (op === undefined && isActionLine(value)) {
        fail(
          entry.line,
          'BULK_ACTION_LINE',
          `line ${entry.line} is an Elasticsearch/OpenSearch action line (${JSON.stringify(value).slice(0, 60)}); sparrow's _bulk takes one document per line ({"id": ..., fields} or {"_op": "delete", "id": ...}). For action and source line pairs, send the body to POST /_os/INDEX/_bulk`,
        );
        return;
      }
      if (op === undefined || op === 'upsert') {
        const { [OPERATION_FIELD]: _op, ...raw } = value as Record<string, unknown>;
        const document = toIngestDocument(op === undefined ? value : raw);
        const line = entry.line;
        await writer.upsert(document, line, (outcome) => {
          if (outcome.result === 'error') fail(line, outcome.code, outcome.message, document.id);
          else response.items.push({ line, id: document.id, result: 'upserted' });
        });
      } else if (op === 'delete') {
        const { id } = toIngestDocument(value);
        await flush();
        if (await writer.delete(id)) {
          response.deleted++;
          response.items.push({ line: entry.line, id, result: 'deleted' });
        } else {
          response.not_found++;
          response.items.push({ line: entry.line, id, result: 'not_found' });
        }
      } else {
        fail(entry.line, 'INVALID_OPERATION', `line ${entry.line}: "_op" must be "upsert" or "delete", got ${JSON.stringify(op)}`);
      }
    } catch (error) {
      const code = errorCode(error);
      if (code === 'COLLECTION_NOT_FOUND') throw error;
      fail(entry.line, code ?? 'INVALID_DOCUMENT', `line ${entry.line}: ${(error as Error).message}`);
    }
  }
}

/** {"index": {...}} and its kin: the first line of an Elasticsearch-style action/source pair. */
function isActionLine(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  if (keys.length !== 1 || !['index', 'create', 'update', 'delete'].includes(keys[0]!)) return false;
  const metadata = (value as Record<string, unknown>)[keys[0]!];
  return metadata !== null && typeof metadata === 'object' && !Array.isArray(metadata);
}
