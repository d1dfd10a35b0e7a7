import { SparrowError } from '../common/errors.js';

/** A document as callers hand it in: an id plus arbitrary JSON fields. */
export interface IngestDocument {
  readonly id: string;
  readonly fields: Record<string, unknown>;
}

export const MAX_ID_LENGTH = 512;

/**
 * Normalises one raw JSON object into an IngestDocument. Accepts "_id" (BEIR) or "id";
 * numeric ids become their decimal string. Everything except the id is kept as stored fields.
 */
export function toIngestDocument(raw: unknown): IngestDocument {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SparrowError('INVALID_DOCUMENT', 'a document must be a JSON object');
  }
  const record = raw as Record<string, unknown>;
  const rawId = record['_id'] ?? record['id'];
  let id: string;
  if (typeof rawId === 'string') id = rawId;
  else if (typeof rawId === 'number' && Number.isFinite(rawId)) id = String(rawId);
  else if (rawId === undefined || rawId === null) throw new SparrowError('MISSING_ID', 'document has no "_id" or "id"');
  else throw new SparrowError('INVALID_ID', `document id must be a string or a number, got ${typeof rawId}`);
  if (id.length === 0 || id.trim().length === 0) throw new SparrowError('INVALID_ID', 'document id is empty');
  if (id.length > MAX_ID_LENGTH) throw new SparrowError('INVALID_ID', `document id is longer than ${MAX_ID_LENGTH} characters`);
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === '_id' || key === 'id') continue;
    fields[key] = value;
  }
  return { id, fields };
}
