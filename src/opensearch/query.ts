import type { Filter } from '../engine/filter.js';
import { illegalArgument, parsingError, unsupported } from './errors.js';
import type { IndexPlan } from './mapping.js';

/**
 * OpenSearch's query DSL, translated to what sparrow runs: one scored query (BM25 over text
 * fields, a sparse vector, a dense vector, a constant, or a hybrid of several) plus a filter in
 * sparrow's filter grammar. Anything sparrow cannot answer exactly as OpenSearch would is refused
 * with the clause named; nothing is ignored.
 */

export type ScoredQuery =
  | { readonly kind: 'bm25'; readonly text: string; readonly fields: readonly { field: string; boost: number }[]; readonly combine: 'sum' | 'max'; readonly boost: number }
  | { readonly kind: 'sparse'; readonly tokens?: Readonly<Record<string, number>>; readonly text?: string; readonly boost: number; readonly heapFactor?: number; readonly queryCut?: number; readonly candidates?: number }
  | { readonly kind: 'knn'; readonly vector: readonly number[]; readonly k: number; readonly boost: number; readonly filter?: Filter }
  | { readonly kind: 'constant'; readonly score: number }
  | { readonly kind: 'hybrid'; readonly queries: readonly QueryPlan[]; readonly paginationDepth?: number };

export interface QueryPlan {
  readonly scored: ScoredQuery;
  readonly filter?: Filter;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A query object has exactly one key, the query's type: {"match": {...}}. */
function single(query: unknown, where: string): [string, unknown] {
  if (!isObject(query)) throw parsingError(`[${where}] query malformed, no start_object after query name`);
  const keys = Object.keys(query);
  if (keys.length !== 1) throw parsingError(keys.length === 0 ? `query malformed, empty clause found in [${where}]` : `[${keys[0]}] malformed query, expected [END_OBJECT] but found [FIELD_NAME]`);
  return [keys[0]!, query[keys[0]!]];
}

function boostOf(options: Record<string, unknown>, name: string): number {
  const boost = options['boost'] ?? 1;
  if (typeof boost !== 'number' || !Number.isFinite(boost) || boost < 0) throw parsingError(`[${name}] boost must be a non-negative number`);
  return boost;
}

function only(options: Record<string, unknown>, name: string, allowed: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      const known = ['operator', 'fuzziness', 'minimum_should_match', 'analyzer', 'prefix_length', 'max_expansions', 'zero_terms_query', 'auto_generate_synonyms_phrase_query', 'lenient', 'tie_breaker', 'case_insensitive', 'format', 'time_zone', 'relation', 'rewrite'];
      throw known.includes(key) ? unsupported(`[${key}] in [${name}]`) : parsingError(`[${name}] query does not support [${key}]`);
    }
  }
}

/** The field's name as filters see it: multi-fields (title.keyword) read their parent's stored value. */
function filterField(plan: IndexPlan, field: string, clause: string): string {
  if (typeof field !== 'string' || field.length === 0) throw parsingError(`[${clause}] query requires a field name`);
  const info = plan.fields.get(field);
  if (info?.kind === 'text') throw unsupported(`[${clause}] on the text field [${field}]`, 'sparrow compares stored values; use a keyword field or a keyword multi-field');
  if (info?.kind === 'rank_features' || info?.kind === 'sparse_vector' || info?.kind === 'knn_vector') throw unsupported(`[${clause}] on the ${info.type} field [${field}]`);
  return info ? info.path : field;
}

function scalarValue(value: unknown, clause: string): string | number | boolean {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw parsingError(`[${clause}] query does not support values of type ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}`);
}

/** A clause in filter context (no scores) as a sparrow filter; undefined for "everything". */
export function translateFilter(plan: IndexPlan, query: unknown): Filter | undefined {
  const [type, body] = single(query, 'filter');
  switch (type) {
    case 'match_all':
      return undefined;
    case 'term': {
      const [field, value] = single(body, 'term');
      const v = isObject(value) ? (only(value, 'term', ['value', 'boost']), value['value']) : value;
      return { [filterField(plan, field, 'term')]: scalarValue(v, 'term') };
    }
    case 'terms': {
      if (!isObject(body)) throw parsingError('[terms] query malformed');
      const entries = Object.entries(body).filter(([k]) => k !== 'boost');
      if (entries.length !== 1) throw parsingError('[terms] query requires exactly one field');
      const [field, values] = entries[0]!;
      if (!Array.isArray(values)) throw unsupported('[terms] lookup (values from another document)', 'give the values as a list');
      return { [filterField(plan, field, 'terms')]: { in: values.map((v) => scalarValue(v, 'terms')) } };
    }
    case 'range': {
      const [field, bounds] = single(body, 'range');
      if (!isObject(bounds)) throw parsingError('[range] query malformed, no start_object after query name');
      only(bounds, 'range', ['gte', 'gt', 'lte', 'lt', 'boost', 'from', 'to', 'include_lower', 'include_upper']);
      const out: Record<string, unknown> = {};
      for (const op of ['gte', 'gt', 'lte', 'lt'] as const) {
        const v = bounds[op];
        if (v === undefined || v === null) continue;
        if (typeof v === 'string' && /^now|\|\|/u.test(v)) throw unsupported(`date math [${v}] in [range]`);
        out[op] = scalarValue(v, 'range');
      }
      if (bounds['from'] !== undefined || bounds['to'] !== undefined) {
        const lower = bounds['include_lower'] === false ? 'gt' : 'gte';
        const upper = bounds['include_upper'] === false ? 'lt' : 'lte';
        if (bounds['from'] !== undefined && bounds['from'] !== null) out[lower] = scalarValue(bounds['from'], 'range');
        if (bounds['to'] !== undefined && bounds['to'] !== null) out[upper] = scalarValue(bounds['to'], 'range');
      }
      if (Object.keys(out).length === 0) return undefined;
      return { [filterField(plan, field, 'range')]: out };
    }
    case 'exists': {
      if (!isObject(body) || typeof body['field'] !== 'string') throw parsingError('[exists] must be provided with a [field]');
      only(body, 'exists', ['field', 'boost']);
      return { [filterField(plan, body['field'], 'exists')]: { exists: true } };
    }
    case 'bool':
      return boolFilter(plan, body);
    case 'constant_score': {
      if (!isObject(body) || body['filter'] === undefined) throw parsingError('[constant_score] requires a \'filter\' element');
      return translateFilter(plan, body['filter']);
    }
    case 'ids':
      throw unsupported('[ids] queries', 'filter on a stored field instead');
    default:
      if (SCORING_TYPES.has(type)) throw unsupported(`the scoring query [${type}] in filter context`, 'sparrow filters on stored fields; put it in the scored part of the query');
      throw unknownQuery(type);
  }
}

const SCORING_TYPES = new Set(['match', 'multi_match', 'neural_sparse', 'knn', 'hybrid', 'match_phrase', 'query_string', 'simple_query_string', 'neural']);

function unknownQuery(type: string) {
  const known = ['match_phrase', 'match_phrase_prefix', 'match_bool_prefix', 'query_string', 'simple_query_string', 'prefix', 'wildcard', 'regexp', 'fuzzy', 'nested', 'has_child', 'has_parent', 'geo_distance', 'geo_bounding_box', 'script', 'script_score', 'function_score', 'more_like_this', 'dis_max', 'boosting', 'rank_feature', 'neural', 'intervals', 'span_term', 'wrapper', 'percolate', 'distance_feature', 'template'];
  return known.includes(type) ? unsupported(`the [${type}] query`) : parsingError(`unknown query [${type}]`);
}

function clauses(value: unknown, name: string): unknown[] {
  if (value === undefined) return [];
  if (Array.isArray(value)) return value;
  if (isObject(value)) return [value];
  throw parsingError(`[bool] query does not support [${name}] of this type`);
}

function and(parts: (Filter | undefined)[]): Filter | undefined {
  const present = parts.filter((p): p is Filter => p !== undefined);
  if (present.length === 0) return undefined;
  return present.length === 1 ? present[0] : { and: present };
}

function boolFilter(plan: IndexPlan, body: unknown): Filter | undefined {
  if (!isObject(body)) throw parsingError('[bool] query malformed');
  only(body, 'bool', ['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost']);
  const must = [...clauses(body['must'], 'must'), ...clauses(body['filter'], 'filter')].map((c) => translateFilter(plan, c));
  const should = clauses(body['should'], 'should').map((c) => translateFilter(plan, c));
  const mustNot = clauses(body['must_not'], 'must_not').map((c) => translateFilter(plan, c));
  const minimum = body['minimum_should_match'];
  if (minimum !== undefined && minimum !== 1 && minimum !== '1') throw unsupported(`[minimum_should_match] ${JSON.stringify(minimum)} in a filter`, 'one matching should clause is what sparrow can express');
  const parts: (Filter | undefined)[] = [...must];
  if (should.length > 0) parts.push(should.some((s) => s === undefined) ? undefined : should.length === 1 ? should[0] : { or: should as Filter[] });
  for (const n of mustNot) parts.push(notFilter(n));
  return and(parts);
}

function notFilter(inner: Filter | undefined): Filter {
  if (inner === undefined) throw unsupported('[must_not] of a clause that matches everything');
  return { not: inner };
}

/** The "title^2" notation of multi_match. */
function fieldWithBoost(spec: string): { field: string; boost: number } {
  const at = spec.lastIndexOf('^');
  if (at < 0) return { field: spec, boost: 1 };
  const boost = Number(spec.slice(at + 1));
  if (!Number.isFinite(boost) || boost < 0) throw parsingError(`invalid boost in field [${spec}]`);
  return { field: spec.slice(0, at), boost };
}

function textFieldsMatching(plan: IndexPlan, pattern: string): string[] {
  if (!pattern.includes('*')) return [pattern];
  const regex = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/gu, '\\$&')).join('.*')}$`, 'u');
  return plan.textFields.filter((f) => regex.test(f));
}

function checkScoredText(plan: IndexPlan, field: string, clause: string): void {
  if (plan.sparseField) {
    throw unsupported(`[${clause}] in this index`, `its scored field is the ${plan.sparseField.type} field [${plan.sparseField.path}] (use neural_sparse); a sparrow index scores text with BM25 only when it has no sparse vector field`);
  }
  const info = plan.fields.get(field);
  if (info?.kind === 'text' && plan.copyTarget && !plan.textFields.includes(field)) {
    throw unsupported(`[${clause}] on [${field}]`, `its text is copied into [${plan.copyTarget}] and scored there; search [${plan.copyTarget}]`);
  }
  if (!info || info.kind !== 'text' || info.path !== field) {
    throw unsupported(`[${clause}] on [${field}]`, info ? `it is ${/^[aeiou]/u.test(info.type) ? 'an' : 'a'} ${info.type} field; BM25 runs on the text fields ${plan.textFields.join(', ') || '(none)'}` : `no text field [${field}] in the mapping (text fields: ${plan.textFields.join(', ') || 'none'})`);
  }
}

/** A query in scoring context. */
export function translateQuery(plan: IndexPlan, query: unknown): QueryPlan {
  if (query === undefined) return { scored: { kind: 'constant', score: 1 } };
  const [type, body] = single(query, 'query');
  switch (type) {
    case 'match_all': {
      const options = isObject(body) ? body : {};
      only(options, 'match_all', ['boost']);
      return { scored: { kind: 'constant', score: boostOf(options, 'match_all') } };
    }
    case 'match': {
      const [field, value] = single(body, 'match');
      const options = isObject(value) ? value : { query: value };
      only(options, 'match', ['query', 'boost', 'operator']);
      if (options['operator'] !== undefined && String(options['operator']).toLowerCase() !== 'or') throw unsupported(`[operator] ${JSON.stringify(options['operator'])} in [match]`, 'sparrow scores any matching term (operator "or")');
      if (typeof options['query'] !== 'string') throw parsingError('[match] requires query text');
      checkScoredText(plan, field, 'match');
      return { scored: { kind: 'bm25', text: options['query'], fields: [{ field, boost: 1 }], combine: 'sum', boost: boostOf(options, 'match') } };
    }
    case 'multi_match': {
      if (!isObject(body)) throw parsingError('[multi_match] query malformed');
      only(body, 'multi_match', ['query', 'fields', 'type', 'boost', 'operator', 'tie_breaker']);
      if (typeof body['query'] !== 'string') throw parsingError('[multi_match] requires query text');
      if (body['operator'] !== undefined && String(body['operator']).toLowerCase() !== 'or') throw unsupported(`[operator] ${JSON.stringify(body['operator'])} in [multi_match]`);
      const type = body['type'] ?? 'best_fields';
      if (type !== 'best_fields' && type !== 'most_fields') throw unsupported(`multi_match type [${String(type)}]`, 'sparrow has best_fields and most_fields');
      const tie = body['tie_breaker'] ?? 0;
      if (type === 'best_fields' && tie !== 0) throw unsupported(`[tie_breaker] ${String(tie)} in best_fields`, 'sparrow takes the best field\'s score (tie_breaker 0)');
      const specs = body['fields'] === undefined ? ['*'] : Array.isArray(body['fields']) ? body['fields'] : [body['fields']];
      const fields: { field: string; boost: number }[] = [];
      for (const spec of specs) {
        if (typeof spec !== 'string') throw parsingError('[multi_match] fields must be strings');
        const { field, boost } = fieldWithBoost(spec);
        const names = textFieldsMatching(plan, field);
        for (const name of names) {
          checkScoredText(plan, name, 'multi_match');
          fields.push({ field: name, boost });
        }
      }
      if (fields.length === 0) throw unsupported('[multi_match] with no text field to search', `text fields: ${plan.textFields.join(', ') || 'none'}`);
      return { scored: { kind: 'bm25', text: body['query'], fields, combine: type === 'most_fields' ? 'sum' : 'max', boost: boostOf(body, 'multi_match') } };
    }
    case 'neural_sparse': {
      const [field, options] = single(body, 'neural_sparse');
      if (!isObject(options)) throw parsingError('[neural_sparse] query malformed');
      only(options, 'neural_sparse', ['query_tokens', 'query_text', 'model_id', 'boost', 'method_parameters', 'max_token_score', 'analyzer']);
      if (!plan.sparseField || plan.sparseField.path !== field) {
        throw illegalArgument(`[neural_sparse] field [${field}] is not the index's rank_features or sparse_vector field${plan.sparseField ? ` ([${plan.sparseField.path}])` : ' (it has none)'}`);
      }
      if (options['analyzer'] !== undefined) throw unsupported('[analyzer] in [neural_sparse]', 'send query_tokens');
      if (options['query_text'] !== undefined && options['query_tokens'] !== undefined) throw parsingError('[neural_sparse] query_text and query_tokens cannot both be given');
      const parameters = options['method_parameters'];
      let heapFactor: number | undefined;
      let queryCut: number | undefined;
      let candidates: number | undefined;
      if (parameters !== undefined) {
        if (!isObject(parameters)) throw parsingError('[neural_sparse] method_parameters must be an object');
        only(parameters, 'neural_sparse.method_parameters', ['heap_factor', 'top_n', 'k']);
        const hf = parameters['heap_factor'];
        // OpenSearch skips a block unless its bound x heap_factor reaches the threshold (larger: more
        // recall); sparrow skips it when its bound is below heap_factor x the threshold (smaller: more recall).
        if (hf !== undefined) {
          if (typeof hf !== 'number' || !(hf > 0)) throw illegalArgument('[neural_sparse] heap_factor must be a positive number');
          heapFactor = Math.min(1, 1 / hf);
        }
        if (parameters['top_n'] !== undefined) queryCut = positiveInteger(parameters['top_n'], 'top_n');
        if (parameters['k'] !== undefined) candidates = positiveInteger(parameters['k'], 'k');
      }
      const boost = boostOf(options, 'neural_sparse');
      if (options['query_tokens'] !== undefined) {
        const tokens = options['query_tokens'];
        if (!isObject(tokens)) throw parsingError('[neural_sparse] query_tokens must be an object {token: weight}');
        return { scored: { kind: 'sparse', tokens: tokens as Record<string, number>, boost, ...(heapFactor !== undefined ? { heapFactor } : {}), ...(queryCut ? { queryCut } : {}), ...(candidates ? { candidates } : {}) } };
      }
      if (typeof options['query_text'] !== 'string') throw parsingError('[neural_sparse] requires query_tokens or query_text');
      return { scored: { kind: 'sparse', text: options['query_text'], boost, ...(heapFactor !== undefined ? { heapFactor } : {}), ...(queryCut ? { queryCut } : {}), ...(candidates ? { candidates } : {}) } };
    }
    case 'knn': {
      const [field, options] = single(body, 'knn');
      if (!isObject(options)) throw parsingError('[knn] query malformed');
      only(options, 'knn', ['vector', 'k', 'filter', 'boost', 'method_parameters']);
      if (!plan.knnField || plan.knnField.path !== field) throw illegalArgument(`Field '${field}' is not knn_vector type.`);
      const vector = options['vector'];
      if (!Array.isArray(vector) || vector.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw parsingError('[knn] requires a vector of numbers');
      if (vector.length !== plan.knnField.dimension) throw illegalArgument(`Query vector has invalid dimension: ${vector.length}. Dimension should be: ${plan.knnField.dimension}`);
      const k = positiveInteger(options['k'] ?? 10, 'k');
      const filter = options['filter'] !== undefined ? translateFilter(plan, options['filter']) : undefined;
      return { scored: { kind: 'knn', vector, k, boost: boostOf(options, 'knn'), ...(filter ? { filter } : {}) } };
    }
    case 'hybrid': {
      if (!isObject(body)) throw parsingError('[hybrid] query malformed');
      only(body, 'hybrid', ['queries', 'filter', 'pagination_depth', 'boost']);
      if (!Array.isArray(body['queries']) || body['queries'].length < 1 || body['queries'].length > 5) throw parsingError('[hybrid] requires 1 to 5 sub-queries in [queries]');
      const filter = body['filter'] !== undefined ? translateFilter(plan, body['filter']) : undefined;
      const queries = body['queries'].map((q) => {
        const sub = translateQuery(plan, q);
        if (sub.scored.kind === 'hybrid') throw parsingError('[hybrid] cannot be nested');
        const merged = and([sub.filter, filter]);
        return merged ? { ...sub, filter: merged } : { scored: sub.scored };
      });
      const depth = body['pagination_depth'];
      return { scored: { kind: 'hybrid', queries, ...(depth !== undefined ? { paginationDepth: positiveInteger(depth, 'pagination_depth') } : {}) } };
    }
    case 'bool': {
      if (!isObject(body)) throw parsingError('[bool] query malformed');
      only(body, 'bool', ['must', 'filter', 'should', 'must_not', 'minimum_should_match', 'boost']);
      // One scored clause (in must, or alone in should) and any number of filters.
      const must = clauses(body['must'], 'must');
      const should = clauses(body['should'], 'should');
      const scoredClauses = [...must, ...should].filter((c) => isObject(c) && SCORING_TYPES.has(Object.keys(c)[0] ?? ''));
      if (scoredClauses.length > 1) throw unsupported('adding the scores of several queries in [bool]', 'use a [hybrid] query to combine scored queries');
      if (should.length > 0 && must.length > 0 && should.some((c) => scoredClauses.includes(c))) throw unsupported('a scored [should] clause beside [must] clauses');
      const filterParts: unknown[] = [...clauses(body['filter'], 'filter'), ...must.filter((c) => !scoredClauses.includes(c))];
      const rest = should.filter((c) => !scoredClauses.includes(c));
      const filter = and([
        ...filterParts.map((c) => translateFilter(plan, c)),
        ...(rest.length > 0 ? [boolFilter(plan, { should: rest, ...(body['minimum_should_match'] !== undefined ? { minimum_should_match: body['minimum_should_match'] } : {}) })] : []),
        ...clauses(body['must_not'], 'must_not').map((c) => notFilter(translateFilter(plan, c))),
      ]);
      if (scoredClauses.length === 0) {
        // Filter-only: each must/should clause adds 1 (sparrow scores term-like clauses 1), filters 0.
        return { scored: { kind: 'constant', score: constantBoolScore(body) * boostOf(body, 'bool') }, ...(filter ? { filter } : {}) };
      }
      const scored = translateQuery(plan, scoredClauses[0]);
      const merged = and([scored.filter, filter]);
      return { scored: scored.scored, ...(merged ? { filter: merged } : {}) };
    }
    case 'constant_score': {
      if (!isObject(body) || body['filter'] === undefined) throw parsingError('[constant_score] requires a \'filter\' element');
      only(body, 'constant_score', ['filter', 'boost']);
      const filter = translateFilter(plan, body['filter']);
      return { scored: { kind: 'constant', score: boostOf(body, 'constant_score') }, ...(filter ? { filter } : {}) };
    }
    case 'term':
    case 'terms':
    case 'range':
    case 'exists': {
      // Outside filter context OpenSearch scores these with a per-term constant; sparrow answers
      // the same documents with score 1 (docs/opensearch.md).
      const filter = translateFilter(plan, query);
      return { scored: { kind: 'constant', score: 1 }, ...(filter ? { filter } : {}) };
    }
    default:
      throw unknownQuery(type);
  }
}

/** A bool of filters only: each non-scoring must/should clause that is a match_all adds 1, filters 0. */
function constantBoolScore(body: Record<string, unknown>): number {
  const scoring = [...clauses(body['must'], 'must'), ...clauses(body['should'], 'should')];
  return scoring.length > 0 ? scoring.length : 0;
}

function positiveInteger(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw illegalArgument(`[${name}] must be a positive integer, got [${String(value)}]`);
  return value;
}
