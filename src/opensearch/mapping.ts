import { illegalArgument, mapperParsing, OpenSearchError, unsupported } from './errors.js';

/**
 * OpenSearch mappings and index settings, translated to a sparrow collection.
 *
 * One index is one collection. Its scored side comes from the mapping:
 * - text fields only: BM25 over them (multifield: each text field scored with its own statistics),
 *   Lucene's BM25 with OpenSearch's defaults (k1 1.2, b 0.75, the "standard" analyzer unless a
 *   field says "english");
 * - one `rank_features` or `sparse_vector` field: that field's vectors (dot product); text fields
 *   are then stored and filterable but not scored (a `match` on them is refused, never faked);
 * - one `knn_vector` field: the collection's dense side (client vectors), for `knn` and `hybrid`.
 * keyword, numeric, boolean, date and object fields are stored; filters (term, terms, range,
 * exists) run on them.
 */

export type FieldKind = 'text' | 'keyword' | 'number' | 'boolean' | 'date' | 'object' | 'rank_features' | 'sparse_vector' | 'knn_vector';

export interface FieldInfo {
  readonly path: string;
  readonly type: string;
  readonly kind: FieldKind;
}

export interface IndexPlan {
  /** The mapping as accepted, with defaults filled in (what GET /INDEX answers). */
  readonly mapping: { properties: Record<string, unknown>; dynamic?: unknown; _meta?: unknown };
  readonly fields: ReadonlyMap<string, FieldInfo>;
  /** The text fields a match can score. */
  readonly textFields: readonly string[];
  /** Each scored text field's name among the encoder's fields (a copy_to target scores as "contents"). */
  readonly scoredAs: ReadonlyMap<string, string>;
  /** A copy_to target: filled from its sources, never by a document itself. */
  readonly copyTarget?: string;
  readonly sparseField: FieldInfo | undefined;
  /**
   * The sparse field is filled by the index's own encoder from text fields (as OpenSearch's
   * sparse_encoding ingest processor fills it): documents do not carry it, and query_text works.
   */
  readonly sparseFromText?: boolean;
  readonly knnField: (FieldInfo & { dimension: number; space: 'cosinesimil' | 'innerproduct' }) | undefined;
  /** What the collection is created with. */
  readonly collection: { encoder: Record<string, unknown>; indexSettings: Record<string, unknown>; dense?: Record<string, unknown> };
}

const NUMBER_TYPES = new Set(['long', 'integer', 'short', 'byte', 'double', 'float', 'half_float', 'scaled_float', 'unsigned_long']);
/** OpenSearch types sparrow knows of but does not serve. */
const UNSUPPORTED_TYPES = new Set([
  'nested', 'join', 'geo_point', 'geo_shape', 'xy_point', 'xy_shape', 'ip', 'binary', 'completion', 'search_as_you_type', 'percolator', 'flat_object',
  'match_only_text', 'wildcard', 'constant_keyword', 'alias', 'token_count', 'murmur3', 'histogram', 'version', 'rank_feature', 'semantic',
  'integer_range', 'long_range', 'float_range', 'double_range', 'date_range', 'ip_range', 'date_nanos', 'icu_collation_keyword', 'aggregate_metric_double',
]);

/** Parameters each type accepts; the ones sparrow acts on are read below, the others are accepted as harmless. */
const COMMON = ['index', 'store', 'doc_values', 'meta', 'boost', 'null_value', 'copy_to'];
const PARAMETERS: Record<string, readonly string[]> = {
  text: [...COMMON, 'analyzer', 'search_analyzer', 'search_quote_analyzer', 'fields', 'norms', 'similarity', 'index_options', 'position_increment_gap', 'term_vector', 'fielddata'],
  keyword: [...COMMON, 'ignore_above', 'fields', 'normalizer', 'similarity', 'eager_global_ordinals', 'index_options', 'norms', 'split_queries_on_whitespace'],
  number: [...COMMON, 'coerce', 'ignore_malformed', 'scaling_factor', 'fields'],
  boolean: [...COMMON, 'fields'],
  date: [...COMMON, 'format', 'locale', 'ignore_malformed', 'fields', 'print_format'],
  object: ['properties', 'dynamic', 'enabled', 'type'],
  rank_features: ['positive_score_impact'],
  sparse_vector: ['method'],
  knn_vector: ['dimension', 'method', 'space_type', 'data_type', 'mode', 'compression_level', 'model_id'],
};
const ANALYZERS = new Set(['standard', 'english']);

/** Seismic's build and query parameters as OpenSearch's sparse_vector field takes them. */
const SEISMIC_PARAMETERS = ['n_postings', 'cluster_ratio', 'summary_prune_ratio', 'approximate_threshold', 'quantization_ceiling_search', 'quantization_ceiling_ingest'];

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function kindOf(type: string): FieldKind {
  if (type === 'text' || type === 'keyword' || type === 'boolean' || type === 'date' || type === 'object' || type === 'rank_features' || type === 'sparse_vector' || type === 'knn_vector') {
    return type;
  }
  return 'number';
}

/** Walks properties (objects included) and checks each field's type and parameters. */
function collectFields(properties: unknown, prefix: string, out: Map<string, FieldInfo>): void {
  if (!isObject(properties)) throw mapperParsing(`Expected map for property [properties]${prefix ? ` on [${prefix.slice(0, -1)}]` : ''} but got a ${Array.isArray(properties) ? 'list' : typeof properties}`);
  for (const [name, definition] of Object.entries(properties)) {
    const path = `${prefix}${name}`;
    if (name.length === 0 || name.includes('..')) throw mapperParsing(`field name cannot be empty or contain '..': [${path}]`);
    if (!isObject(definition)) throw mapperParsing(`Expected map for property [fields] on field [${path}] but got a class java.lang.String`);
    const type = typeof definition['type'] === 'string' ? (definition['type'] as string) : definition['properties'] !== undefined ? 'object' : undefined;
    if (type === undefined) throw mapperParsing(`No type specified for field [${path}]`);
    if (UNSUPPORTED_TYPES.has(type)) throw unsupported(`field type [${type}] (field [${path}])`, 'sparrow stores text, keyword, numeric, boolean, date, object, rank_features, sparse_vector and knn_vector fields');
    if (!(type in PARAMETERS) && !NUMBER_TYPES.has(type)) throw mapperParsing(`No handler for type [${type}] declared on field [${path}]`);
    const kind = kindOf(type);
    const allowed = PARAMETERS[NUMBER_TYPES.has(type) ? 'number' : type]!;
    for (const key of Object.keys(definition)) {
      if (key === 'type') continue;
      if (!allowed.includes(key)) throw mapperParsing(`unknown parameter [${key}] on mapper [${path}] of type [${type}]`);
    }
    if (definition['copy_to'] !== undefined && kind !== 'text') throw unsupported(`copy_to on the ${type} field [${path}]`, 'sparrow copies text fields into one scored text field');
    if (type === 'scaled_float' && typeof definition['scaling_factor'] !== 'number') throw mapperParsing(`Field [scaling_factor] is required on field [${path}]`);
    if (kind === 'text') {
      for (const key of ['analyzer', 'search_analyzer'] as const) {
        const analyzer = definition[key];
        if (analyzer !== undefined && !ANALYZERS.has(analyzer as string)) throw unsupported(`analyzer [${String(analyzer)}] (field [${path}])`, 'sparrow has the "standard" and "english" analyzers');
      }
      if (definition['search_analyzer'] !== undefined && definition['search_analyzer'] !== (definition['analyzer'] ?? 'standard')) {
        throw unsupported(`a search_analyzer other than the field's analyzer (field [${path}])`);
      }
      if (definition['similarity'] !== undefined && typeof definition['similarity'] !== 'string') throw mapperParsing(`similarity must be a name (field [${path}])`);
      if (definition['similarity'] === 'boolean') throw unsupported(`similarity [boolean] (field [${path}])`, 'sparrow scores text with BM25');
    }
    if (definition['fields'] !== undefined) {
      // Multi-fields (e.g. title.keyword) read the same stored value: filters on them filter the parent.
      if (!isObject(definition['fields'])) throw mapperParsing(`Expected map for property [fields] on field [${path}]`);
      for (const [sub, subDefinition] of Object.entries(definition['fields'])) {
        if (!isObject(subDefinition) || (subDefinition['type'] !== 'keyword' && subDefinition['type'] !== 'text')) {
          throw unsupported(`multi-field [${path}.${sub}] of a type other than keyword or text`);
        }
        out.set(`${path}.${sub}`, { path, type: subDefinition['type'] as string, kind: subDefinition['type'] === 'text' ? 'text' : 'keyword' });
      }
    }
    out.set(path, { path, type, kind });
    if (kind === 'object') {
      if (definition['properties'] !== undefined) collectFields(definition['properties'], `${path}.`, out);
    }
  }
}

function numberSetting(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isFinite(n)) throw illegalArgument(`Failed to parse value [${String(value)}] for setting [${name}]`);
  return n;
}

/** settings.index.* (flattened or nested, as OpenSearch accepts both) as one flat map. */
export function flattenSettings(settings: unknown): Record<string, unknown> {
  const flat: Record<string, unknown> = {};
  const walk = (value: unknown, prefix: string): void => {
    if (isObject(value)) for (const [k, v] of Object.entries(value)) walk(v, prefix ? `${prefix}.${k}` : k);
    else flat[prefix.startsWith('index.') ? prefix : `index.${prefix}`] = value;
  };
  if (settings !== undefined && !isObject(settings)) throw illegalArgument('settings must be an object');
  walk(settings ?? {}, '');
  return flat;
}

const KNOWN_SETTINGS = new Set(['index.number_of_shards', 'index.number_of_replicas', 'index.refresh_interval', 'index.knn', 'index.max_result_window', 'index.search.default_pipeline', 'index.sparrow.segment_min_docs', 'index.sparse']);
/** Named similarities: index.similarity.NAME.{type, k1, b, discount_overlaps} ("default" replaces BM25's defaults). */
const SIMILARITY_SETTING = /^index\.similarity\.[A-Za-z0-9_-]+\.(type|k1|b|discount_overlaps)$/u;

/** BM25's k1 and b for the similarity the text fields name (OpenSearch's defaults 1.2 and 0.75). */
function bm25Parameters(settings: Record<string, unknown>, name: string | undefined): { k1: number; b: number } {
  const key = name === undefined || name === 'BM25' ? 'default' : name;
  if (key !== 'default' && !Object.keys(settings).some((k) => k.startsWith(`index.similarity.${key}.`))) throw mapperParsing(`Unknown Similarity type [${key}]`);
  const type = settings[`index.similarity.${key}.type`];
  if (type !== undefined && type !== 'BM25') throw unsupported(`similarity type [${String(type)}]`, 'sparrow scores text with BM25');
  const overlaps = settings[`index.similarity.${key}.discount_overlaps`];
  if (overlaps !== undefined && overlaps !== true && overlaps !== 'true') throw unsupported('[discount_overlaps] false');
  return {
    k1: numberSetting(settings[`index.similarity.${key}.k1`], `index.similarity.${key}.k1`) ?? 1.2,
    b: numberSetting(settings[`index.similarity.${key}.b`], `index.similarity.${key}.b`) ?? 0.75,
  };
}

/**
 * Checks a create-index body and says what collection it becomes. Everything refused is refused
 * here, before anything is created.
 */
export function planIndex(body: unknown): IndexPlan & { settings: Record<string, unknown> } {
  if (body !== undefined && !isObject(body)) throw parsingErrorBody();
  const input = (body ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!['settings', 'mappings', 'aliases'].includes(key)) throw new OpenSearchError(400, 'parse_exception', `unknown key [${key}] for create index`);
  }
  if (input['aliases'] !== undefined && isObject(input['aliases']) && Object.keys(input['aliases']).length > 0) throw unsupported('aliases in create index');
  const settings = flattenSettings(input['settings']);
  for (const key of Object.keys(settings)) {
    if (!KNOWN_SETTINGS.has(key) && !SIMILARITY_SETTING.test(key)) throw unsupported(`index setting [${key}]`, `sparrow reads ${[...KNOWN_SETTINGS].join(', ')}`);
  }
  const shards = numberSetting(settings['index.number_of_shards'], 'index.number_of_shards');
  if (shards !== undefined && shards !== 1) throw unsupported(`[index.number_of_shards] ${shards}`, 'a sparrow index is one shard on one machine (see "Beyond one machine" in ARCHITECTURE.md)');
  const mappings = input['mappings'] ?? {};
  if (!isObject(mappings)) throw mapperParsing('Failed to parse mapping: mappings must be an object');
  for (const key of Object.keys(mappings)) {
    if (!['properties', 'dynamic', '_meta', '_source'].includes(key)) throw mapperParsing(`Root mapping definition has unsupported parameters:  [${key} : ${JSON.stringify(mappings[key])}]`);
  }
  if (mappings['_source'] !== undefined && !(isObject(mappings['_source']) && mappings['_source']['enabled'] !== false && Object.keys(mappings['_source']).every((k) => k === 'enabled'))) {
    throw unsupported('_source settings other than enabled: true', 'sparrow keeps every document\'s source');
  }
  const fields = new Map<string, FieldInfo>();
  collectFields(mappings['properties'] ?? {}, '', fields);
  const top = [...fields.values()].filter((f) => !f.path.includes('.') || fields.get(f.path)?.path === f.path);
  let textFields = top.filter((f) => f.kind === 'text' && fields.get(f.path) === f).map((f) => f.path);
  const sparse = [...fields.values()].filter((f) => f.kind === 'rank_features' || f.kind === 'sparse_vector');
  const knn = [...fields.values()].filter((f) => f.kind === 'knn_vector');
  if (sparse.length > 1) throw unsupported(`more than one rank_features/sparse_vector field (${sparse.map((f) => `[${f.path}]`).join(', ')})`, 'a sparrow index scores one sparse field');
  if (knn.length > 1) throw unsupported(`more than one knn_vector field (${knn.map((f) => `[${f.path}]`).join(', ')})`);
  const properties = mappings['properties'] as Record<string, Record<string, unknown>> | undefined;
  const definitionOf = (path: string): Record<string, unknown> => {
    let node: Record<string, unknown> | undefined = { properties };
    for (const part of path.split('.')) node = (node?.['properties'] as Record<string, Record<string, unknown>> | undefined)?.[part];
    return node ?? {};
  };

  // copy_to: the sources are analyzed together, in mapping order, as one scored field (sparrow's
  // flat BM25), which is how OpenSearch scores the target field.
  const copies = textFields.map((f) => [f, definitionOf(f)['copy_to']] as const).filter(([, target]) => target !== undefined);
  let copyTarget: string | undefined;
  let copySources: string[] = [];
  if (copies.length > 0) {
    const targets = new Set(copies.map(([, target]) => (Array.isArray(target) ? (target.length === 1 ? target[0] : JSON.stringify(target)) : target) as string));
    if (targets.size > 1 || copies.some(([, target]) => Array.isArray(target) && target.length !== 1)) throw unsupported('copy_to into more than one field', 'sparrow scores one copy_to target per index');
    copyTarget = [...targets][0]!;
    if (fields.get(copyTarget)?.kind !== 'text' || definitionOf(copyTarget)['copy_to'] !== undefined) throw mapperParsing(`copy_to target [${copyTarget}] must be a text field of the mapping`);
    copySources = copies.map(([f]) => f);
    textFields = [copyTarget];
  }
  const scoredAs = new Map<string, string>(copyTarget ? [[copyTarget, 'contents']] : textFields.map((f) => [f, f]));

  const indexSettings: Record<string, unknown> = {};
  const segmentMinDocs = numberSetting(settings['index.sparrow.segment_min_docs'], 'index.sparrow.segment_min_docs');
  let encoder: Record<string, unknown>;
  const sparseField = sparse[0];
  const meta = isObject(mappings['_meta']) && isObject(mappings['_meta']['sparrow']) ? mappings['_meta']['sparrow'] : undefined;
  const metaEncoder = meta?.['sparse_encoder'];
  if (meta) for (const key of Object.keys(meta)) if (key !== 'sparse_encoder') throw mapperParsing(`unknown key [${key}] in _meta.sparrow (known: sparse_encoder)`);
  if (metaEncoder !== undefined) {
    // The index's own sparse encoder (SPLADE, with a model folder) fills the sparse field from text.
    if (!sparseField) throw mapperParsing('_meta.sparrow.sparse_encoder needs a rank_features or sparse_vector field to fill');
    if (!isObject(metaEncoder) || metaEncoder['type'] !== 'splade') throw mapperParsing('_meta.sparrow.sparse_encoder must be a sparrow SPLADE encoder: {"type": "splade", "model": DIR, "textFields": [...]}');
    const sources = (metaEncoder['textFields'] as unknown) ?? textFields;
    if (!Array.isArray(sources) || sources.length === 0 || sources.some((f) => fields.get(f as string)?.kind !== 'text')) {
      throw mapperParsing('_meta.sparrow.sparse_encoder.textFields must name text fields of the mapping');
    }
    encoder = { ...metaEncoder, textFields: sources };
    if (sparseField.kind === 'sparse_vector') {
      const method = definitionOf(sparseField.path)['method'];
      if (method !== undefined) Object.assign(indexSettings, seismicSettings(method, sparseField.path));
    }
  } else if (sparseField) {
    encoder = { type: 'precomputed', vectorField: sparseField.path };
    if (sparseField.kind === 'sparse_vector') {
      const method = definitionOf(sparseField.path)['method'];
      if (method !== undefined) Object.assign(indexSettings, seismicSettings(method, sparseField.path));
    }
  } else {
    const analyzers = new Set((copyTarget ? [copyTarget] : textFields).map((f) => (definitionOf(f)['analyzer'] as string | undefined) ?? 'standard'));
    if (analyzers.size > 1) throw unsupported('text fields with different analyzers in one index', `sparrow analyzes all text fields of an index alike (${[...analyzers].join(', ')})`);
    const scored = copyTarget ? [copyTarget] : textFields;
    const similarities = new Set(scored.map((f) => definitionOf(f)['similarity'] as string | undefined));
    if (similarities.size > 1) throw unsupported('text fields with different similarities in one index');
    const { k1, b } = bm25Parameters(settings, [...similarities][0]);
    encoder = {
      type: 'bm25',
      fields: copyTarget ? 'flat' : 'multifield',
      // A collection needs at least one text field to analyze; one with none is searched by filters and vectors only.
      textFields: copyTarget ? copySources : textFields.length > 0 ? textFields : ['_no_text'],
      analyzer: [...analyzers][0] ?? 'standard',
      k1,
      b,
    };
  }
  if (segmentMinDocs !== undefined) indexSettings['segmentMinDocs'] = segmentMinDocs;

  let knnField: IndexPlan['knnField'];
  let dense: Record<string, unknown> | undefined;
  if (knn[0]) {
    const definition = definitionOf(knn[0].path);
    const dimension = definition['dimension'];
    if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1 || dimension > 16_000) {
      throw mapperParsing(`Dimension value must be an integer between 1 and 16000 for field [${knn[0].path}], got [${String(dimension)}]`);
    }
    const method = isObject(definition['method']) ? definition['method'] : {};
    const space = (definition['space_type'] ?? method['space_type'] ?? 'l2') as string;
    if (space !== 'cosinesimil' && space !== 'innerproduct') throw unsupported(`space_type [${space}] (field [${knn[0].path}])`, 'sparrow has cosinesimil and innerproduct');
    if (method['name'] !== undefined && method['name'] !== 'hnsw') throw unsupported(`knn method [${String(method['name'])}]`, 'sparrow has hnsw');
    if (definition['data_type'] !== undefined && definition['data_type'] !== 'float') throw unsupported(`knn data_type [${String(definition['data_type'])}]`);
    if (definition['model_id'] !== undefined) throw unsupported('knn_vector fields trained with model_id');
    knnField = { ...knn[0], dimension, space };
    dense = { encoder: { type: 'client', dimension, field: knn[0].path }, metric: space === 'cosinesimil' ? 'cosine' : 'dot', index: 'hnsw' };
  }
  return {
    mapping: {
      properties: (mappings['properties'] as Record<string, unknown> | undefined) ?? {},
      ...(mappings['dynamic'] !== undefined ? { dynamic: mappings['dynamic'] } : {}),
      ...(mappings['_meta'] !== undefined ? { _meta: mappings['_meta'] } : {}),
    },
    fields,
    textFields,
    scoredAs,
    ...(copyTarget ? { copyTarget } : {}),
    sparseField,
    ...(metaEncoder !== undefined ? { sparseFromText: true } : {}),
    knnField,
    collection: { encoder, indexSettings, ...(dense ? { dense } : {}) },
    settings,
  };
}

function parsingErrorBody(): OpenSearchError {
  return new OpenSearchError(400, 'parse_exception', 'request body is required to be an object');
}

/**
 * OpenSearch's seismic parameters in sparrow's terms (docs/opensearch.md has the table):
 * n_postings -> postingCap with fixed pruning (postings kept per term list), cluster_ratio ->
 * blockFraction (blocks per list as a share of its postings), summary_prune_ratio -> summaryEnergy
 * (the share of a block's mass its summary keeps), approximate_threshold -> segmentMinDocs
 * (documents before segments are built).
 */
export function seismicSettings(method: unknown, field: string): Record<string, unknown> {
  if (!isObject(method)) throw mapperParsing(`method must be an object on field [${field}]`);
  if (method['name'] !== 'seismic') throw unsupported(`sparse_vector method [${String(method['name'])}] (field [${field}])`, 'sparrow implements seismic');
  const parameters = isObject(method['parameters']) ? method['parameters'] : {};
  for (const key of Object.keys(parameters)) {
    if (!SEISMIC_PARAMETERS.includes(key)) throw mapperParsing(`unknown parameter [${key}] in method [seismic] of field [${field}]`);
    if (key.startsWith('quantization_ceiling')) throw unsupported(`[${key}] (field [${field}])`, 'sparrow quantizes forward values by the build setting forwardValues (f32, f16, u8), not by a ceiling');
  }
  const build: Record<string, unknown> = {};
  const out: Record<string, unknown> = {};
  const n = parameters['n_postings'];
  if (n !== undefined) Object.assign(build, { pruning: 'fixed', postingCap: n });
  const clusterRatio = parameters['cluster_ratio'];
  if (clusterRatio !== undefined) build['blockFraction'] = clusterRatio;
  const prune = parameters['summary_prune_ratio'];
  if (prune !== undefined) build['summaryEnergy'] = prune;
  const threshold = parameters['approximate_threshold'];
  if (threshold !== undefined) out['segmentMinDocs'] = threshold;
  if (Object.keys(build).length > 0) out['build'] = build;
  return out;
}

/** Refuses a mapping change that would change an existing field (OpenSearch refuses the same). */
export function mergeMapping(current: IndexPlan, addition: unknown): Record<string, unknown> {
  if (!isObject(addition)) throw mapperParsing('Failed to parse mapping: the body must be an object');
  for (const key of Object.keys(addition)) if (!['properties', 'dynamic', '_meta'].includes(key)) throw mapperParsing(`Root mapping definition has unsupported parameters:  [${key}]`);
  const added = new Map<string, FieldInfo>();
  collectFields(addition['properties'] ?? {}, '', added);
  for (const [path, info] of added) {
    const existing = current.fields.get(path);
    if (existing && existing.type !== info.type) throw illegalArgument(`mapper [${path}] cannot be changed from type [${existing.type}] to [${info.type}]`);
    if (!existing && (info.kind === 'text' || info.kind === 'rank_features' || info.kind === 'sparse_vector' || info.kind === 'knn_vector')) {
      throw unsupported(`adding the ${info.type} field [${path}] to an existing index`, 'its documents would have to be analyzed again; create a new index and reindex');
    }
  }
  const merged = structuredClone(current.mapping) as Record<string, unknown>;
  const mergeInto = (target: Record<string, unknown>, source: Record<string, unknown>): void => {
    for (const [name, definition] of Object.entries(source)) {
      const existing = target[name];
      if (isObject(existing) && isObject(definition) && isObject(definition['properties'])) {
        existing['properties'] ??= {};
        mergeInto(existing['properties'] as Record<string, unknown>, definition['properties']);
      } else if (existing === undefined) target[name] = definition;
    }
  };
  mergeInto(merged['properties'] as Record<string, unknown>, (addition['properties'] as Record<string, unknown>) ?? {});
  if (addition['_meta'] !== undefined) merged['_meta'] = addition['_meta'];
  if (addition['dynamic'] !== undefined) merged['dynamic'] = addition['dynamic'];
  return merged;
}
