import type { Database } from 'better-sqlite3';
import { SparrowError } from '../common/errors.js';

/**
 * Facet counts over stored fields, in SQL: per value of a field (terms) or per range. The
 * documents counted are given as doc numbers (a search's matches) or all live documents.
 */
export type FacetRequest =
  | { readonly type: 'terms'; readonly size?: number }
  | { readonly type: 'range'; readonly ranges: readonly { readonly from?: number | string; readonly to?: number | string; readonly key?: string }[] };

export interface FacetBucket {
  readonly value?: string | number | boolean | null;
  readonly key?: string;
  readonly from?: number | string;
  readonly to?: number | string;
  readonly count: number;
}

export interface FacetResult {
  readonly buckets: FacetBucket[];
  /** terms: documents with a value outside the buckets returned. */
  readonly other?: number;
}

export const MAX_FACET_SIZE = 100;
export const MAX_FACET_RANGES = 50;
const FIELD_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$/;

function jsonPath(field: string): string {
  if (!FIELD_NAME.test(field)) throw new SparrowError('INVALID_FACET', `field name ${JSON.stringify(field)} is not allowed in a facet`);
  return '$.' + field.split('.').map((part) => `"${part}"`).join('.');
}

export function countFacet(db: Database, collectionId: number, field: string, request: FacetRequest, docNumbers: Uint32Array | undefined): FacetResult {
  const path = jsonPath(field);
  // The matches go in as one JSON array; json_each turns it into a table SQLite joins on.
  const scope = docNumbers ? 'AND doc_number IN (SELECT value FROM json_each(?))' : '';
  const scopeParams = docNumbers ? [JSON.stringify(Array.from(docNumbers))] : [];
  if (request.type === 'terms') {
    const size = request.size ?? 10;
    if (!Number.isInteger(size) || size < 1 || size > MAX_FACET_SIZE) throw new SparrowError('INVALID_FACET', `facet ${field}: size must be a whole number from 1 to ${MAX_FACET_SIZE}`);
    const rows = db
      .prepare(`SELECT json_extract(fields, ?) AS value, json_type(fields, ?) AS kind, count(*) AS n FROM documents WHERE collection_id = ? ${scope} AND json_type(fields, ?) IN ('text', 'integer', 'real', 'true', 'false') GROUP BY value, kind ORDER BY n DESC, value LIMIT ?`)
      .all(path, path, collectionId, ...scopeParams, path, size + 1) as { value: string | number; kind: string; n: number }[];
    const total = (db.prepare(`SELECT count(*) AS n FROM documents WHERE collection_id = ? ${scope} AND json_type(fields, ?) IN ('text', 'integer', 'real', 'true', 'false')`).get(collectionId, ...scopeParams, path) as { n: number }).n;
    const buckets = rows.slice(0, size).map((r) => ({ value: r.kind === 'true' ? true : r.kind === 'false' ? false : r.value, count: r.n }));
    return { buckets, other: total - buckets.reduce((s, b) => s + b.count, 0) };
  }
  if (!Array.isArray(request.ranges) || request.ranges.length === 0 || request.ranges.length > MAX_FACET_RANGES) {
    throw new SparrowError('INVALID_FACET', `facet ${field}: ranges must be a list of 1 to ${MAX_FACET_RANGES} {from, to}`);
  }
  const statement = db.prepare(`SELECT count(*) AS n FROM documents WHERE collection_id = ? ${scope} AND json_extract(fields, ?) >= ? AND json_extract(fields, ?) < ?`);
  const buckets = request.ranges.map((range) => {
    for (const bound of [range.from, range.to]) {
      if (bound !== undefined && typeof bound !== 'number' && typeof bound !== 'string') throw new SparrowError('INVALID_FACET', `facet ${field}: from and to must be numbers or strings`);
    }
    // Open ends: the lowest and highest values SQLite orders (numbers sort before text).
    const from = range.from ?? -Infinity;
    const to = range.to ?? '\uffff';
    const n = (statement.get(collectionId, ...scopeParams, path, from === -Infinity ? -1e308 : from, path, to) as { n: number }).n;
    return { ...(range.key !== undefined ? { key: range.key } : {}), ...(range.from !== undefined ? { from: range.from } : {}), ...(range.to !== undefined ? { to: range.to } : {}), count: n };
  });
  return { buckets };
}
