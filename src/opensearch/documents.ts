import { randomBytes } from 'node:crypto';
import { OpenSearchError } from './errors.js';
import type { OpenSearchIndex } from './search.js';

/** A document's _source as OpenSearch returns it: stored fields plus the vectors kept apart. */
export function sourceOf(index: OpenSearchIndex, id: string, fields: Record<string, unknown>): Record<string, unknown> {
  const out = { ...fields };
  const sparse = index.plan.sparseField?.path;
  if (sparse) {
    const vector = index.collection.sparseVectorOf(id);
    if (vector) out[sparse] = vector;
  }
  const knn = index.plan.knnField?.path;
  if (knn) {
    const vector = index.collection.denseVectorOf(id);
    if (vector) out[knn] = vector;
  }
  return out;
}

/** OpenSearch's auto-generated ids: 20 URL-safe characters. */
export function generatedId(): string {
  return randomBytes(15).toString('base64url');
}

const DOC_ID_LIMIT = 512;

export function checkId(id: unknown): string {
  if (typeof id === 'number' && Number.isFinite(id)) return String(id);
  if (typeof id !== 'string' || id.length === 0) throw new OpenSearchError(400, 'illegal_argument_exception', 'if _id is specified it must not be empty');
  if (Buffer.byteLength(id) > DOC_ID_LIMIT) throw new OpenSearchError(400, 'illegal_argument_exception', `id [${id.slice(0, 40)}...] is too long, must be no longer than 512 bytes but was: ${Buffer.byteLength(id)}`);
  return id;
}

function preview(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

function fieldError(path: string, type: string, id: string, value: unknown): OpenSearchError {
  return new OpenSearchError(400, 'mapper_parsing_exception', `failed to parse field [${path}] of type [${type}] in document with id '${id}'. Preview of field's value: '${preview(value)}'`);
}

/**
 * Checks a source against the mapping as OpenSearch's mappers would, before anything is written:
 * numbers in numeric fields, strings in text fields (one per field: sparrow analyzes one value),
 * and, under "dynamic": "strict", no field the mapping lacks.
 */
export function checkSource(index: OpenSearchIndex, id: string, source: unknown): Record<string, unknown> {
  if (source === null || typeof source !== 'object' || Array.isArray(source)) {
    throw new OpenSearchError(400, 'mapper_parsing_exception', 'failed to parse, document is empty or not an object');
  }
  const strict = index.plan.mapping.dynamic === 'strict' || index.plan.mapping.dynamic === 'strict_allow_templates';
  const walk = (node: Record<string, unknown>, prefix: string): void => {
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      const info = index.plan.fields.get(path);
      if (!info) {
        if (strict) throw new OpenSearchError(400, 'strict_dynamic_mapping_exception', `mapping set to strict, dynamic introduction of [${key}] within [${prefix || '_doc'}] is not allowed`);
        continue;
      }
      if (value === null) continue;
      if (index.plan.sparseFromText && path === index.plan.sparseField?.path) {
        throw new OpenSearchError(400, 'mapper_parsing_exception', `[${path}] is filled by this index's sparse encoder from its text fields; documents do not carry it`);
      }
      if (path === index.plan.copyTarget) {
        throw new OpenSearchError(400, 'mapper_parsing_exception', `[${path}] is filled by copy_to from ${index.plan.collection.encoder['textFields'] ? (index.plan.collection.encoder['textFields'] as string[]).join(', ') : 'its sources'}; sparrow does not take values for it from documents`);
      }
      switch (info.kind) {
        case 'text':
          if (typeof value !== 'string') {
            if (Array.isArray(value)) throw new OpenSearchError(400, 'mapper_parsing_exception', `sparrow indexes one string per text field; [${path}] in document with id '${id}' is a list`);
            if (typeof value === 'object') throw fieldError(path, info.type, id, value);
          }
          break;
        case 'keyword':
          for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'object' && v !== null) throw fieldError(path, info.type, id, value);
          break;
        case 'number': {
          const coerced = (Array.isArray(value) ? value : [value]).map((v) => {
            const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
            if (typeof n !== 'number' || !Number.isFinite(n)) throw fieldError(path, info.type, id, v);
            // OpenSearch truncates a decimal given to an integer field; sparrow refuses rather than store a different value.
            if (['long', 'integer', 'short', 'byte', 'unsigned_long'].includes(info.type) && !Number.isInteger(n)) throw fieldError(path, info.type, id, v);
            return n;
          });
          // Numeric strings are stored as numbers, so range and term filters compare them as numbers.
          node[key] = Array.isArray(value) ? coerced : coerced[0];
          break;
        }
        case 'boolean': {
          const coerced = (Array.isArray(value) ? value : [value]).map((v) => {
            if (typeof v === 'boolean') return v;
            if (v === 'true' || v === 'false') return v === 'true';
            throw fieldError(path, info.type, id, v);
          });
          node[key] = Array.isArray(value) ? coerced : coerced[0];
          break;
        }
        case 'date':
          for (const v of Array.isArray(value) ? value : [value]) if (typeof v !== 'string' && typeof v !== 'number') throw fieldError(path, info.type, id, v);
          break;
        case 'object':
          if (typeof value !== 'object' || Array.isArray(value)) throw new OpenSearchError(400, 'mapper_parsing_exception', `object mapping for [${path}] tried to parse field [${key}] as object, but found a concrete value`);
          walk(value as Record<string, unknown>, path);
          break;
        case 'rank_features':
        case 'sparse_vector':
          if (typeof value !== 'object' || Array.isArray(value)) throw fieldError(path, info.type, id, value);
          for (const [token, weight] of Object.entries(value as Record<string, unknown>)) {
            if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < 0) {
              throw new OpenSearchError(400, 'mapper_parsing_exception', `[${info.type}] fields do not support negative or non-numeric values, but got [${String(weight)}] for feature [${token}] in document with id '${id}'`);
            }
          }
          break;
        case 'knn_vector':
          if (!Array.isArray(value) || value.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw fieldError(path, info.type, id, value);
          if (value.length !== index.plan.knnField!.dimension) {
            throw new OpenSearchError(400, 'mapper_parsing_exception', `Vector dimension mismatch. Expected: ${index.plan.knnField!.dimension}, Given: ${value.length}`);
          }
          break;
      }
    }
  };
  // Checked and coerced on a copy: the caller's object stays as it was sent.
  const copy = structuredClone(source as Record<string, unknown>);
  walk(copy, '');
  return copy;
}

/** OpenSearch's partial update: objects merge key by key, everything else is replaced. */
export function mergeDocument(current: Record<string, unknown>, change: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(change)) {
    const existing = out[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && existing !== null && typeof existing === 'object' && !Array.isArray(existing)) {
      out[key] = mergeDocument(existing as Record<string, unknown>, value as Record<string, unknown>);
    } else out[key] = value;
  }
  return out;
}

export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
