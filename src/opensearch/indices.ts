import type { Collection } from '../engine/collection.js';
import type { Engine } from '../engine/engine.js';
import { fromSparrowError, illegalArgument, indexNotFound, OpenSearchError } from './errors.js';
import { flattenSettings, mergeMapping, planIndex, type FieldInfo, type IndexPlan } from './mapping.js';
import type { OpenSearchIndex } from './search.js';

/** Index names as OpenSearch allows them, also valid sparrow collection names. */
const INDEX_NAME = /^[a-z0-9][a-z0-9_.-]{0,127}$/;

/**
 * OpenSearch indexes over sparrow collections. A collection made through this API keeps its
 * mapping; one made through sparrow's own API is shown with a mapping derived from its encoder.
 */
export class OpenSearchIndices {
  private readonly plans = new Map<number, { plan: IndexPlan; settings: Record<string, unknown> }>();

  constructor(private readonly engine: Engine) {}

  resolve(name: string): OpenSearchIndex {
    const collection = this.engine.findCollection(name);
    if (!collection) throw indexNotFound(name);
    return this.indexOf(collection);
  }

  indexOf(collection: Collection): OpenSearchIndex {
    let cached = this.plans.get(collection.record.id);
    if (!cached) {
      const stored = this.engine.store.openSearchIndex(collection.record.id);
      if (stored) {
        const { settings: _flat, ...plan } = planIndex({ settings: stored.settings, mappings: stored.mapping });
        cached = { plan, settings: stored.settings };
      } else cached = { plan: derivedPlan(collection), settings: {} };
      this.plans.set(collection.record.id, cached);
    }
    return { name: collection.name, collection, plan: cached.plan, settings: flattenSettings(cached.settings) };
  }

  create(name: string, body: unknown): OpenSearchIndex {
    if (!INDEX_NAME.test(name) || name === '.' || name === '..') {
      throw new OpenSearchError(400, 'invalid_index_name_exception', `Invalid index name [${name}], must be lowercase, start with a letter or digit, and hold only letters, digits, '_', '-' and '.'`, { index: name });
    }
    if (this.engine.findCollection(name)) throw new OpenSearchError(400, 'resource_already_exists_exception', `index [${name}/${name}] already exists`, { index: name });
    const plan = planIndex(body);
    const input = (body ?? {}) as Record<string, unknown>;
    try {
      const collection = this.engine.createCollection(name, { encoder: plan.collection.encoder, index: plan.collection.indexSettings, ...(plan.collection.dense ? { dense: plan.collection.dense } : {}) }, { mapping: plan.mapping, settings: (input['settings'] as Record<string, unknown> | undefined) ?? {} });
      return this.indexOf(collection);
    } catch (error) {
      throw fromSparrowError(error);
    }
  }

  updateMapping(index: OpenSearchIndex, addition: unknown): void {
    const merged = mergeMapping(index.plan, addition);
    if (!this.engine.store.openSearchIndex(index.collection.record.id)) throw illegalArgument(`index [${index.name}] was made through sparrow's own API; its mapping follows its encoder and cannot be changed here`);
    this.engine.store.updateOpenSearchMapping(index.collection.record.id, merged);
    this.plans.delete(index.collection.record.id);
  }

  list(): OpenSearchIndex[] {
    return this.engine.listCollections().map((record) => this.indexOf(this.engine.collection(record.name)));
  }
}

/** A mapping for a collection made through sparrow's own API, read from its encoder and dense side. */
function derivedPlan(collection: Collection): IndexPlan {
  const encoder = collection.record.encoder as Record<string, unknown>;
  const properties: Record<string, unknown> = {};
  const fields = new Map<string, FieldInfo>();
  let sparseField: FieldInfo | undefined;
  let textFields: string[] = [];
  if (encoder['type'] === 'bm25') {
    textFields = [...((encoder['textFields'] as string[] | undefined) ?? ['title', 'text'])];
    // A flat BM25 collection scores all text fields as one: it answers multi_match most_fields only.
    for (const f of textFields) {
      properties[f] = { type: 'text', analyzer: encoder['analyzer'] ?? 'english' };
      fields.set(f, { path: f, type: 'text', kind: 'text' });
    }
  } else if (encoder['type'] === 'splade') {
    // A SPLADE collection fills its sparse field from its text fields, shown as "sparse_embedding".
    textFields = [];
    for (const f of (encoder['textFields'] as string[] | undefined) ?? ['title', 'text']) {
      properties[f] = { type: 'text' };
      fields.set(f, { path: f, type: 'text', kind: 'text' });
    }
    properties['sparse_embedding'] = { type: 'sparse_vector' };
    sparseField = { path: 'sparse_embedding', type: 'sparse_vector', kind: 'sparse_vector' };
    fields.set('sparse_embedding', sparseField);
  } else if (encoder['type'] === 'precomputed') {
    const field = (encoder['vectorField'] as string | undefined) ?? 'vector';
    properties[field] = { type: 'rank_features' };
    sparseField = { path: field, type: 'rank_features', kind: 'rank_features' };
    fields.set(field, sparseField);
  }
  let knnField: IndexPlan['knnField'];
  const dense = collection.record.dense as Record<string, unknown> | undefined;
  const denseEncoder = dense?.['encoder'] as Record<string, unknown> | undefined;
  if (denseEncoder?.['type'] === 'client') {
    const field = (denseEncoder['field'] as string | undefined) ?? 'dense_vector';
    const space = dense?.['metric'] === 'dot' ? 'innerproduct' : 'cosinesimil';
    properties[field] = { type: 'knn_vector', dimension: denseEncoder['dimension'], space_type: space };
    knnField = { path: field, type: 'knn_vector', kind: 'knn_vector', dimension: denseEncoder['dimension'] as number, space };
    fields.set(field, knnField);
  }
  // A flat BM25 collection scores its text fields as one: shown as copied into "contents".
  const flat = encoder['type'] === 'bm25' && encoder['fields'] === 'flat';
  if (flat) {
    for (const f of textFields) (properties[f] as Record<string, unknown>)['copy_to'] = 'contents';
    properties['contents'] = { type: 'text', analyzer: encoder['analyzer'] ?? 'english' };
    fields.set('contents', { path: 'contents', type: 'text', kind: 'text' });
  }
  const scored = flat ? ['contents'] : textFields;
  return {
    mapping: { properties },
    fields,
    textFields: scored,
    scoredAs: new Map(scored.map((f) => [f, f])),
    ...(flat ? { copyTarget: 'contents' } : {}),
    sparseField,
    ...(encoder['type'] === 'splade' ? { sparseFromText: true } : {}),
    knnField,
    collection: { encoder, indexSettings: collection.record.indexSettings },
  };
}

