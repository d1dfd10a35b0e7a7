import type { Collection, HitTotal, SearchHit, SearchRequest } from '../engine/collection.js';
import type { HighlightRequest } from '../engine/highlighting.js';
import { errorCode } from '../common/errors.js';
import type { Filter } from '../engine/filter.js';
import { processHybrid, type ProcessorSpec } from '../fusion/processors.js';
import { fromSparrowError, illegalArgument, OpenSearchError, parsingError, unsupported } from './errors.js';
import type { IndexPlan } from './mapping.js';
import { translateQuery, type QueryPlan, type ScoredQuery } from './query.js';
import { filterSource, sourceSpec, type SourceSpec } from './source.js';

/** An OpenSearch index as the compatible API sees it: the collection and what its mapping says. */
export interface OpenSearchIndex {
  readonly name: string;
  readonly collection: Collection;
  readonly plan: IndexPlan;
  readonly settings: Readonly<Record<string, unknown>>;
}

export const DEFAULT_MAX_RESULT_WINDOW = 10_000;
const DEFAULT_TRACK_TOTAL_HITS = 10_000;

const BODY_KEYS = new Set(['query', 'size', 'from', '_source', 'explain', 'track_total_hits', 'highlight', 'sort', 'timeout', 'search_pipeline', 'version', 'seq_no_primary_term', 'post_filter', 'track_scores']);
const UNSUPPORTED_KEYS = ['aggs', 'aggregations', 'suggest', 'rescore', 'collapse', 'search_after', 'pit', 'stored_fields', 'docvalue_fields', 'fields', 'script_fields', 'indices_boost', 'min_score', 'profile', 'ext', 'terminate_after', 'stats', 'slice', 'knn', 'runtime_mappings', 'derived'];

interface Candidate {
  readonly id: string;
  readonly score: number;
  readonly fields?: Record<string, unknown>;
  readonly hit?: SearchHit;
}

/** The OpenSearch knn scores: cosinesimil (1 + cos) / 2; innerproduct ip + 1 (ip >= 0) or 1 / (1 - ip). */
function knnScore(raw: number, space: 'cosinesimil' | 'innerproduct'): number {
  if (space === 'cosinesimil') return Math.fround((1 + raw) / 2);
  return Math.fround(raw >= 0 ? raw + 1 : 1 / (1 - raw));
}

function intParameter(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw illegalArgument(`[${name}] parameter cannot be negative, found [${String(value)}]`);
  return n;
}

function checkSort(sort: unknown): void {
  if (sort === undefined) return;
  const items = Array.isArray(sort) ? sort : [sort];
  for (const item of items) {
    if (item === '_score') continue;
    if (item !== null && typeof item === 'object' && Object.keys(item).length === 1 && '_score' in item) {
      const order = (item as Record<string, unknown>)['_score'];
      const direction = typeof order === 'string' ? order : (order as Record<string, unknown> | null)?.['order'];
      if (direction === undefined || direction === 'desc') continue;
    }
    throw unsupported(`[sort] ${JSON.stringify(item)}`, 'sparrow returns hits by score, best first');
  }
}

/** The highlight section in OpenSearch's shape, as one sparrow highlight request. */
function highlightOf(value: unknown): HighlightRequest | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw parsingError('[highlight] must be an object');
  const h = value as Record<string, unknown>;
  const allowed = ['fields', 'pre_tags', 'post_tags', 'fragment_size', 'number_of_fragments', 'encoder', 'order', 'no_match_size', 'type', 'require_field_match'];
  for (const key of Object.keys(h)) if (!allowed.includes(key)) throw unsupported(`[highlight.${key}]`);
  let names: string[] = [];
  const fields = h['fields'];
  const perField: Record<string, unknown>[] = [];
  if (Array.isArray(fields)) for (const f of fields) for (const [name, options] of Object.entries(f as Record<string, unknown>)) (names.push(name), perField.push(options as Record<string, unknown>));
  else if (fields !== null && typeof fields === 'object') for (const [name, options] of Object.entries(fields)) (names.push(name), perField.push(options as Record<string, unknown>));
  else throw parsingError('[highlight] requires [fields]');
  for (const options of perField) {
    if (options && Object.keys(options).some((k) => k !== 'type')) throw unsupported('per-field highlight settings', 'give pre_tags, fragment_size and the rest once for all fields');
  }
  if (names.includes('*')) names = [];
  const tag = (list: unknown, name: string): string | undefined => {
    if (list === undefined) return undefined;
    if (!Array.isArray(list) || list.length !== 1 || typeof list[0] !== 'string') throw unsupported(`[highlight.${name}] other than one tag`);
    return list[0];
  };
  const preTag = tag(h['pre_tags'], 'pre_tags');
  const postTag = tag(h['post_tags'], 'post_tags');
  const encoder = h['encoder'] === undefined || h['encoder'] === 'default' ? 'none' : h['encoder'] === 'html' ? 'html' : undefined;
  if (encoder === undefined) throw illegalArgument(`Unknown encoder [${String(h['encoder'])}]`);
  const order = h['order'] === undefined || h['order'] === 'none' ? 'position' : h['order'] === 'score' ? 'score' : undefined;
  if (order === undefined) throw illegalArgument(`Unknown order [${String(h['order'])}]`);
  return {
    ...(names.length > 0 ? { fields: names } : {}),
    ...(preTag !== undefined ? { preTag } : {}),
    ...(postTag !== undefined ? { postTag } : {}),
    encoder,
    order,
    ...(h['fragment_size'] !== undefined ? { fragmentSize: h['fragment_size'] as number } : {}),
    ...(h['number_of_fragments'] !== undefined ? { numberOfFragments: h['number_of_fragments'] as number } : {}),
    ...(h['no_match_size'] !== undefined ? { noMatchSize: h['no_match_size'] as number } : {}),
  };
}

/** The normalization and combination a hybrid query uses, from a search pipeline body. */
export function processorSpec(pipeline: unknown, subQueries: number): ProcessorSpec {
  if (pipeline === undefined) return { normalization: 'min_max' };
  if (pipeline === null || typeof pipeline !== 'object') throw illegalArgument('search pipeline must be an object');
  const p = pipeline as Record<string, unknown>;
  for (const key of Object.keys(p)) {
    if (key === 'description' || key === 'phase_results_processors') continue;
    if (key === 'request_processors' || key === 'response_processors') {
      if (Array.isArray(p[key]) && (p[key] as unknown[]).length === 0) continue;
      throw unsupported(`search pipeline [${key}]`, 'sparrow runs normalization-processor and score-ranker-processor');
    }
    throw illegalArgument(`unknown search pipeline member [${key}]`);
  }
  const processors = (p['phase_results_processors'] ?? []) as unknown[];
  if (!Array.isArray(processors) || processors.length > 1) throw unsupported('more than one phase results processor');
  if (processors.length === 0) return { normalization: 'min_max' };
  const [name, config] = Object.entries(processors[0] as Record<string, Record<string, unknown>>)[0] ?? [];
  const weightsOf = (combination: Record<string, unknown> | undefined): number[] | undefined => {
    const parameters = combination?.['parameters'] as Record<string, unknown> | undefined;
    const weights = parameters?.['weights'];
    if (weights === undefined) return undefined;
    if (!Array.isArray(weights) || weights.some((w) => typeof w !== 'number' || w < 0 || w > 1)) throw illegalArgument('all weights must be numbers in the range [0.0 - 1.0]');
    if (weights.length !== subQueries) throw illegalArgument(`number of weights [${weights.length}] must match number of sub-queries [${subQueries}] in hybrid query`);
    return weights as number[];
  };
  if (name === 'normalization-processor') {
    const normalization = (config?.['normalization'] as Record<string, unknown> | undefined)?.['technique'] ?? 'min_max';
    const combination = config?.['combination'] as Record<string, unknown> | undefined;
    const technique = combination?.['technique'] ?? 'arithmetic_mean';
    if (normalization !== 'min_max' && normalization !== 'l2' && normalization !== 'z_score') throw illegalArgument(`provided normalization technique [${String(normalization)}] is not supported`);
    if (technique !== 'arithmetic_mean') throw unsupported(`combination technique [${String(technique)}]`, 'sparrow combines by arithmetic_mean (or rrf through score-ranker-processor)');
    const weights = weightsOf(combination);
    return { normalization, ...(weights ? { weights } : {}) };
  }
  if (name === 'score-ranker-processor') {
    const combination = config?.['combination'] as Record<string, unknown> | undefined;
    if ((combination?.['technique'] ?? 'rrf') !== 'rrf') throw illegalArgument(`provided combination technique [${String(combination?.['technique'])}] is not supported`);
    const constant = combination?.['rank_constant'] ?? 60;
    if (typeof constant !== 'number' || !Number.isInteger(constant) || constant < 1 || constant > 10_000) throw illegalArgument(`rank constant must be in the interval between 1 and 10000, submitted rank constant: ${String(constant)}`);
    const weights = weightsOf(combination);
    return { normalization: 'rrf', rankConstant: constant, ...(weights ? { weights } : {}) };
  }
  throw unsupported(`the search processor [${String(name)}]`);
}

export interface SearchContext {
  readonly pipeline: (name: string) => Record<string, unknown> | undefined;
}

/** A sparrow search, its coded errors turned into OpenSearch's. */
async function run(collection: Collection, request: SearchRequest) {
  try {
    return await collection.searchAsync(request);
  } catch (error) {
    if (errorCode(error) === 'TEXT_QUERY_UNSUPPORTED') {
      throw unsupported('[query_text] on this index', 'its sparse vectors come from the client and sparrow runs no model for model_id; send query_tokens');
    }
    throw fromSparrowError(error);
  }
}

function scoredName(index: OpenSearchIndex, field: string): string {
  return index.plan.scoredAs.get(field) ?? field;
}

/** One scored query's best `k` hits, scores as OpenSearch computes them, and its total. */
async function runScored(index: OpenSearchIndex, scored: Exclude<ScoredQuery, { kind: 'hybrid' }>, filter: Filter | undefined, k: number, offset: number, extras: Partial<SearchRequest>): Promise<{ hits: Candidate[]; total: HitTotal }> {
  const collection = index.collection;
  const base = { k: Math.max(1, Math.min(k, DEFAULT_MAX_RESULT_WINDOW)), fields: true as const, ...(filter ? { filter } : {}), ...extras };
  switch (scored.kind) {
    case 'constant': {
      const { ids, total } = collection.scan({ ...(filter ? { filter } : {}), offset, limit: k - offset });
      // Offsets already applied: callers slice from `offset`, so pad the front.
      const hits: Candidate[] = new Array<Candidate>(offset).fill({ id: '', score: 0 });
      for (const id of ids) hits.push({ id, score: scored.score });
      return { hits, total: { value: total, relation: 'eq' } };
    }
    case 'bm25': {
      if (scored.combine === 'sum' || scored.fields.length === 1) {
        const response = await run(collection, { ...base, query: scored.text, retrieval: 'sparse', mode: 'exact', fieldBoosts: Object.fromEntries(scored.fields.map((f) => [scoredName(index, f.field), f.boost])), onlyBoostedFields: true });
        return { hits: response.hits.map((h) => ({ id: h.id, score: Math.fround(h.score * scored.boost), hit: h })), total: response.total ?? { value: response.hits.length, relation: 'gte' } };
      }
      // best_fields: each document scores its best field. A document in the top k by its best
      // field is in that field's own top k, so the union of per-field top-k lists is enough.
      const best = new Map<string, Candidate>();
      for (const { field, boost } of scored.fields) {
        const response = await run(collection, { ...base, query: scored.text, retrieval: 'sparse', mode: 'exact', fieldBoosts: { [scoredName(index, field)]: boost }, onlyBoostedFields: true });
        for (const h of response.hits) {
          const score = Math.fround(h.score * scored.boost);
          const seen = best.get(h.id);
          if (!seen || seen.score < score) best.set(h.id, { id: h.id, score, hit: h });
        }
      }
      // The union of matches is the most_fields query's match set.
      const all = await run(collection, { query: scored.text, retrieval: 'sparse', mode: 'exact', k: 1, fields: false, ...(filter ? { filter } : {}), fieldBoosts: Object.fromEntries(scored.fields.map((f) => [scoredName(index, f.field), 1])), onlyBoostedFields: true });
      const hits = [...best.values()].sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1)).slice(0, k);
      return { hits, total: all.total ?? { value: hits.length, relation: 'gte' } };
    }
    case 'sparse': {
      const exact = index.plan.sparseField?.kind === 'rank_features';
      const response = await run(collection, {
        ...base,
        k: Math.max(base.k, scored.candidates ?? 0),
        query: scored.tokens ?? scored.text!,
        retrieval: 'sparse',
        mode: exact ? 'exact' : 'auto',
        ...(scored.heapFactor !== undefined || scored.queryCut !== undefined
          ? { approximate: { ...(scored.heapFactor !== undefined ? { heapFactor: scored.heapFactor } : {}), ...(scored.queryCut !== undefined ? { queryCut: scored.queryCut } : {}) } }
          : {}),
      });
      return { hits: response.hits.slice(0, k).map((h) => ({ id: h.id, score: Math.fround(h.score * scored.boost), hit: h })), total: response.total ?? { value: response.hits.length, relation: 'gte' } };
    }
    case 'knn': {
      const knnFilter = scored.filter && filter ? { and: [scored.filter, filter] } : (scored.filter ?? filter);
      const response = await run(collection, { ...base, ...(knnFilter ? { filter: knnFilter } : {}), k: Math.min(scored.k, DEFAULT_MAX_RESULT_WINDOW), denseVector: scored.vector, retrieval: 'dense' });
      const space = index.plan.knnField!.space;
      const hits = response.hits.map((h) => ({ id: h.id, score: Math.fround(knnScore(h.score, space) * scored.boost), hit: h }));
      return { hits: hits.slice(0, k), total: { value: hits.length, relation: 'eq' } };
    }
  }
}

/** POST /INDEX/_search and /INDEX/_count. */
export async function searchIndex(index: OpenSearchIndex, rawBody: unknown, params: Record<string, string | undefined>, context: SearchContext): Promise<Record<string, unknown>> {
  const started = process.hrtime.bigint();
  const body = (rawBody ?? {}) as Record<string, unknown>;
  if (rawBody !== undefined && (rawBody === null || typeof rawBody !== 'object' || Array.isArray(rawBody))) throw parsingError('request body must be an object');
  for (const key of Object.keys(body)) {
    if (UNSUPPORTED_KEYS.includes(key)) throw unsupported(`[${key}] in a search`);
    if (!BODY_KEYS.has(key)) throw parsingError(`Unknown key for a START_OBJECT in [${key}].`);
  }
  if (params['q'] !== undefined) throw unsupported('URI search ([q])', 'send the query in the body');
  if (params['scroll'] !== undefined) throw unsupported('[scroll]');
  const size = intParameter(params['size'] ?? body['size'], 'size', 10);
  const from = intParameter(params['from'] ?? body['from'], 'from', 0);
  const window = Number(index.settings['index.max_result_window'] ?? DEFAULT_MAX_RESULT_WINDOW);
  if (from + size > window) {
    const reason = `Result window is too large, from + size must be less than or equal to: [${window}] but was [${from + size}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.`;
    throw new OpenSearchError(400, 'search_phase_execution_exception', 'all shards failed', { phase: 'query' }, { type: 'illegal_argument_exception', reason });
  }
  checkSort(body['sort']);
  const source = sourceSpec(params['_source'] ?? body['_source'], { includes: params['_source_includes'], excludes: params['_source_excludes'] });
  const explain = body['explain'] === true || params['explain'] === 'true';
  const highlight = highlightOf(body['highlight']);
  let plan: QueryPlan = translateQuery(index.plan, body['query']);
  if (body['post_filter'] !== undefined) {
    const post = translateQuery(index.plan, { bool: { filter: [body['post_filter']] } }).filter;
    if (post) plan = { ...plan, filter: plan.filter ? { and: [plan.filter, post] } : post };
  }
  const k = from + size;
  const extras: Partial<SearchRequest> = { ...(explain ? { explain: true } : {}), ...(highlight ? { highlight } : {}) };

  let hits: Candidate[];
  let total: HitTotal;
  if (plan.scored.kind === 'hybrid') {
    const depth = plan.scored.paginationDepth ?? Math.max(k, 1);
    const lists = [];
    for (const sub of plan.scored.queries) {
      if (sub.scored.kind === 'hybrid') throw parsingError('[hybrid] cannot be nested');
      lists.push(await runScored(index, sub.scored, sub.filter, depth, 0, extras));
    }
    const pipelineName = params['search_pipeline'] ?? (typeof body['search_pipeline'] === 'string' ? body['search_pipeline'] : undefined) ?? (index.settings['index.search.default_pipeline'] as string | undefined);
    let pipeline: unknown = typeof body['search_pipeline'] === 'object' ? body['search_pipeline'] : undefined;
    if (pipelineName !== undefined && pipelineName !== '_none') {
      pipeline = context.pipeline(pipelineName);
      if (pipeline === undefined) throw new OpenSearchError(404, 'resource_not_found_exception', `Pipeline ${pipelineName} is not defined`);
    }
    const spec = processorSpec(pipeline, lists.length);
    const byId = new Map<string, Candidate>();
    for (const list of lists) for (const h of list.hits) if (!byId.has(h.id)) byId.set(h.id, h);
    const fused = processHybrid(lists.map((l) => l.hits), spec);
    hits = fused.map((f) => ({ ...byId.get(f.id)!, score: f.score }));
    total = { value: fused.length, relation: lists.some((l) => l.total.relation === 'gte') ? 'gte' : 'eq' };
  } else {
    ({ hits, total } = await runScored(index, plan.scored, plan.filter, k, from, extras));
  }
  const page = hits.slice(from, from + size);
  const track = body['track_total_hits'] ?? DEFAULT_TRACK_TOTAL_HITS;
  const reported = track === false ? undefined : track === true ? total : typeof track === 'number' && total.value > track ? { value: track, relation: 'gte' as const } : total;
  const sparseField = index.plan.sparseField?.path;
  const out = page.map((c) => {
    const stored = c.hit?.fields ?? (source.enabled ? index.collection.get(c.id)?.fields : undefined) ?? {};
    const full = sparseField && source.enabled && wantsField(source, sparseField) ? { ...stored, [sparseField]: index.collection.sparseVectorOf(c.id) } : stored;
    const filtered = filterSource(full, source);
    const entry: Record<string, unknown> = { _index: index.name, _id: c.id, _score: c.score };
    if (body['version'] === true || body['seq_no_primary_term'] === true) {
      const doc = index.collection.get(c.id);
      if (body['version'] === true) entry['_version'] = doc?.version ?? 1;
      if (body['seq_no_primary_term'] === true) Object.assign(entry, { _seq_no: doc?.docNumber ?? 0, _primary_term: 1 });
    }
    if (filtered !== undefined) entry['_source'] = filtered;
    if (c.hit?.highlight && Object.keys(c.hit.highlight).length > 0) entry['highlight'] = c.hit.highlight;
    if (explain) entry['_explanation'] = explanationOf(c);
    return entry;
  });
  return {
    took: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
    timed_out: false,
    _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
    hits: {
      ...(reported ? { total: reported } : {}),
      max_score: out.length > 0 ? Math.max(...page.map((h) => h.score)) : null,
      hits: out,
    },
  };
}

function wantsField(source: SourceSpec, field: string): boolean {
  return filterSource({ [field]: 1 }, source)?.[field] !== undefined;
}

/** _count: the documents a query matches (exactly, sparse vectors included). */
export async function countIndex(index: OpenSearchIndex, rawBody: unknown): Promise<Record<string, unknown>> {
  const body = (rawBody ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(body)) if (key !== 'query') throw parsingError(`request does not support [${key}]`);
  const plan = translateQuery(index.plan, body['query']);
  let count: number;
  if (plan.scored.kind === 'hybrid') throw unsupported('[hybrid] in _count');
  if (plan.scored.kind === 'sparse') {
    const response = await run(index.collection, { query: plan.scored.tokens ?? plan.scored.text!, retrieval: 'sparse', mode: 'exact', k: 1, fields: false, ...(plan.filter ? { filter: plan.filter } : {}) });
    count = response.total?.value ?? 0;
  } else {
    count = (await runScored(index, plan.scored, plan.filter, 1, 0, {})).total.value;
  }
  return { count, _shards: { total: 1, successful: 1, skipped: 0, failed: 0 } };
}

function explanationOf(c: Candidate): Record<string, unknown> {
  const terms = c.hit?.explain ?? [];
  if (terms.length === 0) return { value: c.score, description: c.hit ? 'score' : 'constant score (no scored clause)', details: [] };
  return {
    value: c.score,
    description: 'sum of:',
    details: terms.map((t) => ({
      value: t.score,
      description: `weight(${t.field}:${t.term}), result of:`,
      details: [
        { value: t.queryWeight, description: 'query weight (boost x idf for BM25, the token weight for sparse vectors)', details: [] },
        { value: t.documentValue, description: 'document value (term frequency for BM25, the learned weight for sparse vectors)', details: [] },
      ],
    })),
  };
}
