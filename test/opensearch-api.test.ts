import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@opensearch-project/opensearch';
import t from 'tap';
import { readRun } from '../src/eval/trec-files.js';
import { SeededRandom } from '../src/common/random.js';
import { hasScifact, scifactDir, sharedDir } from './support/paths.js';
import { call, startServer, type Server } from './support/server.js';
import { tinyModelFolder } from './support/tiny-model.js';
import { tempDir } from './support/tmp.js';
import { Engine } from '../src/engine/engine.js';
import { ApiKeys } from '../src/server/auth.js';
import { buildApp } from '../src/server/app.js';

/**
 * The OpenSearch-compatible API, driven by the official OpenSearch JavaScript client against
 * `sparrow serve` on loopback.
 */

interface CorpusLine {
  _id: string;
  title: string;
  text: string;
}

function readJsonLines<T>(file: string, limit = Infinity): T[] {
  const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);
  return lines.slice(0, limit).map((l) => JSON.parse(l) as T);
}

/** The error an OpenSearch client call failed with: HTTP status and OpenSearch's error body. */
async function failure(promise: Promise<unknown>): Promise<{ status: number; body: any }> {
  try {
    await promise;
  } catch (error) {
    const meta = (error as { meta?: { statusCode: number; body: unknown } }).meta;
    if (meta) return { status: meta.statusCode, body: meta.body };
    throw error;
  }
  throw new Error('the call succeeded');
}

let server: Server;
// Loosely typed here: the tests send what OpenSearch accepts, also where the client's types are narrower.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
let client: any;

t.before(async () => {
  const dataDir = tempDir(t);
  server = await startServer(t, dataDir, dataDir);
  client = new Client({ node: `${server.address}/_os` }) as unknown;
});

t.test('BM25 match over SciFact: Lucene\'s own scores pair by pair, and sparrow\'s search route', async (t) => {
  if (!hasScifact) {
    t.pass('no SciFact', { skip: true });
    return;
  }
  // The reference run's index: one field of title + " " + text, EnglishAnalyzer, k1 0.9, b 0.4.
  const created = await client.indices.create({
    index: 'scifact',
    body: {
      settings: { index: { number_of_shards: 1, similarity: { default: { type: 'BM25', k1: 0.9, b: 0.4 } } } },
      mappings: { properties: { contents: { type: 'text', analyzer: 'english' }, title: { type: 'keyword' } } },
    },
  });
  t.same(created.body, { acknowledged: true, shards_acknowledged: true, index: 'scifact' });
  const corpus = readJsonLines<CorpusLine>(path.join(scifactDir, 'corpus.jsonl'));
  for (let start = 0; start < corpus.length; start += 1000) {
    const body = corpus.slice(start, start + 1000).flatMap((d) => [{ index: { _index: 'scifact', _id: d._id } }, { contents: `${d.title} ${d.text}`, title: d.title }]);
    const bulk = await client.bulk({ body });
    t.equal(bulk.body.errors, false, `bulk from ${start}: no errors`);
  }
  t.equal((await client.count({ index: 'scifact' })).body.count, corpus.length, 'every document counted');

  const lucene = await readRun(path.join(sharedDir, 'reference', 'scifact-lucene-bm25', 'run.trec.gz'));
  const queries = readJsonLines<{ _id: string; text: string }>(path.join(scifactDir, 'queries.jsonl')).filter((q) => lucene.has(q._id)).slice(0, 40);
  let pairs = 0;
  let worst = 0;
  for (const query of queries) {
    const answer = await client.search({ index: 'scifact', body: { query: { match: { contents: query.text } }, size: 100, _source: false } });
    const hits = answer.body.hits.hits as { _id: string; _score: number }[];
    // Lucene's run drops the query's own id. Each of our top 50 is in Lucene's list with the same
    // score, and Lucene's k-th score is ours: the rankings differ at most in the order of ties.
    const expected = new Map(lucene.get(query._id)!.map((d) => [d.docId, d.score]));
    const ours = hits.filter((h) => h._id !== query._id).slice(0, 50);
    const luceneScores = [...expected.values()].sort((a, b) => b - a);
    let missing = 0;
    ours.forEach((h, i) => {
      const score = expected.get(h._id);
      if (score === undefined) missing++;
      else worst = Math.max(worst, Math.abs(h._score - score), Math.abs(h._score - luceneScores[i]!));
      pairs++;
    });
    t.equal(missing, 0, `${query._id}: every hit is in Lucene's run`);
    t.equal(answer.body.hits.total.relation, 'eq');
    // The same collection through sparrow's own search route: the same hits and scores.
    const own = await call(server, 'POST', '/collections/scifact/search', { query: query.text, k: 100, fields: false });
    t.same(own.json.hits.map((h: { id: string; score: number }) => [h.id, h.score]), hits.map((h) => [h._id, h._score]), `${query._id}: sparrow's search route agrees`);
    t.equal(own.json.total.value, answer.body.hits.total.value, `${query._id}: the same total`);
  }
  t.ok(pairs >= 1500, `${pairs} (query, document) scores compared`);
  t.ok(worst <= 1e-5, `largest difference from Lucene's score ${worst} (the run prints 6 decimals)`);

  // Paging: pages of 7 line up with one page of 35.
  const text = queries[0]!.text;
  const whole = (await client.search({ index: 'scifact', body: { query: { match: { contents: text } }, size: 35, _source: false } })).body.hits.hits.map((h: { _id: string }) => h._id);
  const paged: string[] = [];
  for (let from = 0; from < 35; from += 7) {
    paged.push(...(await client.search({ index: 'scifact', body: { query: { match: { contents: text } }, from, size: 7, _source: false } })).body.hits.hits.map((h: { _id: string }) => h._id));
  }
  t.same(paged, whole, 'from/size pages concatenate to the whole list');
  const deep = await failure(client.search({ index: 'scifact', body: { query: { match: { contents: text } }, from: 9995, size: 10 } }));
  t.equal(deep.status, 400);
  t.equal(deep.body.error.type, 'search_phase_execution_exception');
  t.equal(deep.body.error.root_cause[0].type, 'illegal_argument_exception');
  t.match(deep.body.error.root_cause[0].reason, /Result window is too large, from \+ size must be less than or equal to: \[10000\] but was \[10005\]/);
});

t.test('documents, _source filtering, updates, deletes, multi_match and filters', async (t) => {
  await client.indices.create({
    index: 'papers',
    body: {
      mappings: {
        dynamic: 'strict',
        properties: {
          title: { type: 'text', fields: { keyword: { type: 'keyword' } } },
          abstract: { type: 'text' },
          year: { type: 'integer' },
          venue: { type: 'keyword' },
          meta: { properties: { pages: { type: 'integer' }, open: { type: 'boolean' } } },
        },
      },
    },
  });
  const docs = [
    { _id: 'p1', title: 'Sparrows in cities', abstract: 'House sparrows adapt to city life and noise.', year: 2019, venue: 'ecology', meta: { pages: 12, open: true } },
    { _id: 'p2', title: 'Hawks hunting sparrows', abstract: 'Predation of small birds by hawks in winter.', year: 2015, venue: 'ornithology', meta: { pages: 8, open: false } },
    { _id: 'p3', title: 'Noise and birdsong', abstract: 'City noise changes the songs of sparrows and finches.', year: 2021, venue: 'ecology', meta: { pages: 20, open: true } },
  ];
  const bulk = await client.bulk({ index: 'papers', body: docs.flatMap(({ _id, ...source }) => [{ index: { _id } }, source]) });
  t.same(bulk.body.items.map((i: any) => [i.index._id, i.index.result, i.index.status]), [['p1', 'created', 201], ['p2', 'created', 201], ['p3', 'created', 201]]);

  const got = await client.get({ index: 'papers', id: 'p1', _source_includes: 'title,meta.pages' } as never);
  t.same(got.body._source, { title: 'Sparrows in cities', meta: { pages: 12 } }, '_source includes, nested path');
  t.equal(got.body._version, 1);
  const missing = await failure(client.get({ index: 'papers', id: 'nope' }));
  t.equal(missing.status, 404);
  t.same(missing.body, { _index: 'papers', _id: 'nope', found: false });

  const most = await client.search({ index: 'papers', body: { query: { multi_match: { query: 'city sparrows', fields: ['title^2', 'abstract'], type: 'most_fields' } }, _source: { excludes: ['abstract', 'meta'] } } });
  t.same(Object.keys(most.body.hits.hits[0]._source).sort(), ['title', 'venue', 'year'], '_source excludes');
  const best = await client.search({ index: 'papers', body: { query: { multi_match: { query: 'city sparrows', fields: ['title', 'abstract'] } }, explain: true } });
  // best_fields scores each document by its better field: check against the two single-field queries.
  const byField: Record<string, Record<string, number>> = {};
  for (const field of ['title', 'abstract']) {
    const one = await client.search({ index: 'papers', body: { query: { match: { [field]: 'city sparrows' } } } });
    for (const h of one.body.hits.hits) (byField[h._id] ??= {})[field] = h._score;
  }
  for (const h of best.body.hits.hits) {
    t.equal(h._score, Math.max(...Object.values(byField[h._id]!)), `${h._id}: best_fields = the better field's score`);
    t.ok(h._explanation.details.length > 0, `${h._id}: explain lists the terms`);
  }

  const filtered = await client.search({
    index: 'papers',
    body: { query: { bool: { must: [{ match: { abstract: 'sparrows noise' } }], filter: [{ term: { venue: 'ecology' } }, { range: { year: { gte: 2020 } } }, { term: { 'meta.open': true } }] } } },
  });
  t.same(filtered.body.hits.hits.map((h: { _id: string }) => h._id), ['p3'], 'bool: match + term + range + nested boolean filter');
  const keyword = await client.search({ index: 'papers', body: { query: { term: { 'title.keyword': 'Noise and birdsong' } } } });
  t.same(keyword.body.hits.hits.map((h: { _id: string; _score: number }) => [h._id, h._score]), [['p3', 1]], 'a keyword multi-field filters by the stored value');
  const highlighted = await client.search({ index: 'papers', body: { query: { match: { abstract: 'sparrows' } }, highlight: { fields: { abstract: {} }, pre_tags: ['<b>'], post_tags: ['</b>'] }, track_total_hits: false, version: true } });
  const first = highlighted.body.hits.hits[0];
  t.match(first.highlight.abstract[0], /<b>sparrows<\/b>/i, 'highlight: the match in the given tags');
  t.notOk('total' in highlighted.body.hits, 'track_total_hits false: no total');
  t.equal(first._version, 1, 'version: true adds _version');
  t.equal((await client.count({ index: 'papers', body: { query: { match: { abstract: 'sparrows' } } } })).body.count, 2, '_count with a query');
  const all = await client.search({ index: 'papers', body: { query: { match_all: {} }, size: 2 } });
  t.same([all.body.hits.total, all.body.hits.hits.length], [{ value: 3, relation: 'eq' }, 2], 'match_all: total and size');

  const updated = await client.update({ index: 'papers', id: 'p2', body: { doc: { meta: { pages: 9 } } } });
  t.same([updated.body.result, updated.body._version], ['updated', 2]);
  t.same((await client.get({ index: 'papers', id: 'p2' })).body._source.meta, { pages: 9, open: false }, 'a partial update merges objects');
  const noop = await client.update({ index: 'papers', id: 'p2', body: { doc: { year: 2015 } } });
  t.equal(noop.body.result, 'noop', 'an update that changes nothing is a noop');
  const absent = await failure(client.update({ index: 'papers', id: 'p9', body: { doc: { year: 1 } } }));
  t.same([absent.status, absent.body.error.type], [404, 'document_missing_exception']);

  const deleted = await client.delete({ index: 'papers', id: 'p1' });
  t.equal(deleted.body.result, 'deleted');
  t.equal((await client.count({ index: 'papers' })).body.count, 2, 'the count follows the delete');
  const after = await client.search({ index: 'papers', body: { query: { match: { title: 'sparrows' } } } });
  t.notOk(after.body.hits.hits.some((h: { _id: string }) => h._id === 'p1'), 'a deleted document is not found');
  const again = await failure(client.delete({ index: 'papers', id: 'p1' }));
  t.same([again.status, again.body.result], [404, 'not_found']);

  await client.index({ index: 'papers', id: 'p5', body: { title: 'Owls', year: '2030', meta: { open: 'true' } } });
  const coerced = await client.search({ index: 'papers', body: { query: { bool: { filter: [{ range: { year: { gte: 2025 } } }, { term: { 'meta.open': true } }] } } } });
  t.same(coerced.body.hits.hits.map((h: { _id: string }) => h._id), ['p5'], 'numeric and boolean strings filter as numbers and booleans');
  await client.delete({ index: 'papers', id: 'p5' });
  const strict = await failure(client.index({ index: 'papers', id: 'p4', body: { title: 'x', colour: 'red' } }));
  t.same([strict.status, strict.body.error.type], [400, 'strict_dynamic_mapping_exception'], 'dynamic strict refuses an unmapped field');
  const wrongType = await failure(client.index({ index: 'papers', id: 'p4', body: { title: 'x', year: 'soon' } }));
  t.same([wrongType.status, wrongType.body.error.type], [400, 'mapper_parsing_exception'], 'a string in an integer field');
  t.equal((await client.count({ index: 'papers' })).body.count, 2, 'refused documents wrote nothing');
});

t.test('neural_sparse on a rank_features index equals brute-force dot products', async (t) => {
  await client.indices.create({ index: 'vectors', body: { mappings: { properties: { text: { type: 'text' }, embedding: { type: 'rank_features' }, group: { type: 'keyword' } } } } });
  const random = new SeededRandom(42);
  const vocabulary = Array.from({ length: 60 }, (_, i) => `tok${i}`);
  const docs = Array.from({ length: 300 }, (_, i) => {
    const embedding: Record<string, number> = {};
    for (let j = 0; j < 12; j++) embedding[vocabulary[random.nextInt(vocabulary.length)]!] = Math.fround(0.05 + random.nextFloat() * 2);
    return { id: `v${i}`, text: `document ${i}`, embedding, group: i % 3 === 0 ? 'a' : 'b' };
  });
  const bulk = await client.bulk({ index: 'vectors', body: docs.flatMap(({ id, ...source }) => [{ index: { _id: id } }, source]) });
  t.equal(bulk.body.errors, false);
  for (let q = 0; q < 10; q++) {
    const tokens: Record<string, number> = {};
    for (let j = 0; j < 4; j++) tokens[vocabulary[random.nextInt(vocabulary.length)]!] = Math.fround(0.1 + random.nextFloat());
    const filterA = q % 2 === 0;
    const answer = await client.search({
      index: 'vectors',
      body: { query: { bool: { must: [{ neural_sparse: { embedding: { query_tokens: tokens } } }], ...(filterA ? { filter: [{ term: { group: 'a' } }] } : {}) } }, size: 10 },
    });
    const expected = docs
      .filter((d) => !filterA || d.group === 'a')
      .map((d) => ({ id: d.id, score: Object.entries(tokens).reduce((s, [tok, w]) => s + Math.fround(w * (d.embedding[tok] ?? 0)), 0) }))
      .filter((d) => d.score > 0)
      .sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1))
      .slice(0, 10);
    const hits = answer.body.hits.hits as { _id: string; _score: number; _source: { embedding: Record<string, number> } }[];
    t.same(hits.map((h) => h._id), expected.map((e) => e.id), `query ${q}: the brute-force top 10${filterA ? ' (filtered)' : ''}`);
    hits.forEach((h, i) => t.ok(Math.abs(h._score - expected[i]!.score) <= 1e-5 * Math.max(1, expected[i]!.score), `query ${q}, ${h._id}: score`));
    t.same(hits[0]!._source.embedding, docs.find((d) => d.id === hits[0]!._id)!.embedding, '_source returns the vector as sent');
  }
  const textQuery = await failure(client.search({ index: 'vectors', body: { query: { neural_sparse: { embedding: { query_text: 'hello', model_id: 'm1' } } } } }));
  t.equal(textQuery.status, 400);
  t.match(textQuery.body.error.reason, /query_text.*query_tokens/, 'query_text without a model says what to send instead');
  const matchThere = await failure(client.search({ index: 'vectors', body: { query: { match: { text: 'document' } } } }));
  t.match(matchThere.body.error.reason, /\[match\] in this index.*rank_features field \[embedding\]/, 'match on an index scored by its sparse field is refused, not faked');
});

t.test('neural_sparse query_text: the index\'s own SPLADE encoder fills the field and encodes the query', async (t) => {
  const model = tinyModelFolder(t);
  await client.indices.create({
    index: 'passages',
    body: {
      mappings: {
        _meta: { sparrow: { sparse_encoder: { type: 'splade', model, maxLength: 64, textFields: ['passage_text'] } } },
        properties: { passage_text: { type: 'text' }, passage_embedding: { type: 'sparse_vector' } },
      },
    },
  });
  const texts = ['white matter tracts in the brain', 'gray matter volume declines', 'sparrows sing in the city', 'diffusion imaging of the cortex', 'birds and their songs'];
  const bulk = await client.bulk({ index: 'passages', body: texts.flatMap((text, i) => [{ index: { _id: `s${i}` } }, { passage_text: text }]) });
  t.equal(bulk.body.errors, false, 'documents carry only their text');
  const answer = await client.search({ index: 'passages', body: { query: { neural_sparse: { passage_embedding: { query_text: 'white matter' } } }, size: 5 } });
  const own = await call(server, 'POST', '/collections/passages/search', { query: 'white matter', k: 5, fields: false });
  t.same(answer.body.hits.hits.map((h: { _id: string; _score: number }) => [h._id, h._score]), own.json.hits.map((h: { id: string; score: number }) => [h.id, h.score]), 'query_text: the same answer as sparrow\'s own route');
  t.ok(Object.keys(answer.body.hits.hits[0]._source.passage_embedding).length > 0, '_source shows the vector the encoder made');
  const tokens = answer.body.hits.hits[0]._source.passage_embedding as Record<string, number>;
  const [token] = Object.entries(tokens).sort((a, b) => b[1] - a[1])[0]!;
  const byTokens = await client.search({ index: 'passages', body: { query: { neural_sparse: { passage_embedding: { query_tokens: { [token]: 1 } } } } } });
  t.ok(byTokens.body.hits.hits.some((h: { _id: string }) => h._id === answer.body.hits.hits[0]._id), 'query_tokens on the same field');
  const carried = await failure(client.index({ index: 'passages', id: 'x', body: { passage_text: 'x', passage_embedding: { a: 1 } } }));
  t.match(carried.body.error.reason, /filled by this index's sparse encoder/, 'a document carrying the encoded field is refused');
});

t.test('keys: the OpenSearch door needs them as the rest does, and answers in its own shape', async (t) => {
  const engine = Engine.open(tempDir(t));
  const reader = 'r'.repeat(32);
  const app = buildApp({ engine, workers: 1, keys: new ApiKeys([{ name: 'reader', role: 'read', key: reader }]) });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  const anonymous = await app.inject({ method: 'GET', url: '/_os/_cat/indices?format=json' });
  t.same([anonymous.statusCode, anonymous.json().error.type], [401, 'security_exception']);
  const read = await app.inject({ method: 'GET', url: '/_os/_cat/indices?format=json', headers: { authorization: `Bearer ${reader}` } });
  t.equal(read.statusCode, 200);
  const create = await app.inject({ method: 'PUT', url: '/_os/x', headers: { authorization: `Bearer ${reader}` }, payload: {} });
  t.same([create.statusCode, create.json().error.type], [403, 'security_exception'], 'a read key creates no index');
});

t.test('hybrid: match and knn, normalized and combined as the pipeline says', async (t) => {
  await client.indices.create({
    index: 'hybrid',
    body: { settings: { index: { knn: true } }, mappings: { properties: { text: { type: 'text' }, vec: { type: 'knn_vector', dimension: 4, space_type: 'cosinesimil', method: { name: 'hnsw', engine: 'lucene' } } } } },
  });
  const random = new SeededRandom(7);
  const words = ['sparrow', 'hawk', 'finch', 'owl', 'city', 'forest', 'song', 'nest'];
  const docs = Array.from({ length: 80 }, (_, i) => ({
    id: `h${i}`,
    text: Array.from({ length: 6 }, () => words[random.nextInt(words.length)]).join(' '),
    vec: Array.from({ length: 4 }, () => random.nextFloat() * 2 - 1),
  }));
  await client.bulk({ index: 'hybrid', body: docs.flatMap(({ id, ...source }) => [{ index: { _id: id } }, source]) });
  await client.transport.request({ method: 'PUT', path: '/_search/pipeline/norm', body: { phase_results_processors: [{ 'normalization-processor': { normalization: { technique: 'min_max' }, combination: { technique: 'arithmetic_mean', parameters: { weights: [0.3, 0.7] } } } }] } });
  await client.transport.request({ method: 'PUT', path: '/_search/pipeline/rrf', body: { phase_results_processors: [{ 'score-ranker-processor': { combination: { technique: 'rrf', rank_constant: 40 } } }] } });
  const vector = [0.5, -0.2, 0.1, 0.9];
  const match = { match: { text: 'sparrow song' } };
  const knn = { knn: { vec: { vector, k: 10 } } };
  const lists: { _id: string; _score: number }[][] = [];
  for (const q of [match, knn]) lists.push((await client.search({ index: 'hybrid', body: { query: q, size: 10, _source: false } })).body.hits.hits as { _id: string; _score: number }[]);
  // The knn scores are OpenSearch's for cosinesimil: (1 + cos) / 2.
  const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0) / Math.hypot(...a) / Math.hypot(...b);
  for (const h of lists[1]!) t.ok(Math.abs(h._score - (1 + cosine(vector, docs.find((d) => d.id === h._id)!.vec)) / 2) < 1e-5, `${h._id}: knn score (1 + cos) / 2`);

  // min_max + weighted arithmetic mean, worked out here from the two lists.
  const expected = new Map<string, { sum: number; weights: number }>();
  [0.3, 0.7].forEach((w, q) => {
    const scores = lists[q]!.map((h) => h._score);
    const [min, max] = [Math.min(...scores), Math.max(...scores)];
    for (const h of lists[q]!) {
      const n = max === min ? 1 : (h._score - min) / (max - min) || 0.001;
      const e = expected.get(h._id) ?? { sum: 0, weights: 0 };
      expected.set(h._id, { sum: e.sum + w * n, weights: e.weights + w });
    }
  });
  const ranked = [...expected].map(([id, e]) => ({ id, score: e.sum / e.weights })).sort((a, b) => b.score - a.score || (a.id < b.id ? 1 : -1));
  const hybrid = await client.search({ index: 'hybrid', search_pipeline: 'norm', body: { query: { hybrid: { queries: [match, knn] } }, size: 10, _source: false } } as never);
  const hits = hybrid.body.hits.hits as { _id: string; _score: number }[];
  t.same(hits.map((h) => h._id), ranked.slice(0, 10).map((r) => r.id), 'min_max, weights [0.3, 0.7]: the order worked out by hand');
  hits.forEach((h, i) => t.ok(Math.abs(h._score - ranked[i]!.score) < 1e-5, `${h._id}: fused score`));

  const rrf = await client.search({ index: 'hybrid', search_pipeline: 'rrf', body: { query: { hybrid: { queries: [match, knn] } }, size: 5, _source: false } } as never);
  const rrfExpected = new Map<string, number>();
  for (const list of lists) list.forEach((h, rank) => rrfExpected.set(h._id, (rrfExpected.get(h._id) ?? 0) + 1 / (40 + rank + 1)));
  const rrfRanked = [...rrfExpected].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1));
  t.same(rrf.body.hits.hits.map((h: { _id: string }) => h._id), rrfRanked.slice(0, 5).map((r) => r[0]), 'rrf with rank_constant 40');

  const unknownPipeline = await failure(client.search({ index: 'hybrid', search_pipeline: 'nope', body: { query: { hybrid: { queries: [match, knn] } } } } as never));
  t.same([unknownPipeline.status, unknownPipeline.body.error.type], [404, 'resource_not_found_exception']);
  const badDimension = await failure(client.search({ index: 'hybrid', body: { query: { knn: { vec: { vector: [1, 2], k: 3 } } } } }));
  t.match(badDimension.body.error.reason, /Query vector has invalid dimension: 2\. Dimension should be: 4/);
});

t.test('bad input answered as OpenSearch does, nothing half-applied', async (t) => {
  const unknownType = await failure(client.indices.create({ index: 'bad1', body: { mappings: { properties: { x: { type: 'colour' } } } } }));
  t.same([unknownType.status, unknownType.body.error.type], [400, 'mapper_parsing_exception']);
  t.match(unknownType.body.error.reason, 'No handler for type [colour] declared on field [x]');
  const unknownParameter = await failure(client.indices.create({ index: 'bad2', body: { mappings: { properties: { x: { type: 'text', colour: 'red' } } } } }));
  t.match(unknownParameter.body.error.reason, 'unknown parameter [colour] on mapper [x] of type [text]');
  t.equal((await failure(client.indices.get({ index: 'bad1' }))).status, 404, 'a refused mapping creates no index');
  const exists = await failure(client.indices.create({ index: 'papers' }));
  t.same([exists.status, exists.body.error.type], [400, 'resource_already_exists_exception']);
  const change = await failure(client.indices.putMapping({ index: 'papers', body: { properties: { year: { type: 'keyword' } } } }));
  t.same([change.status, change.body.error.type], [400, 'illegal_argument_exception']);
  t.match(change.body.error.reason, 'mapper [year] cannot be changed from type [integer] to [keyword]');
  const added = await client.indices.putMapping({ index: 'papers', body: { properties: { pages: { type: 'integer' } } } });
  t.equal(added.body.acknowledged, true, 'a new keyword/number field can be added');
  t.ok('pages' in (await client.indices.getMapping({ index: 'papers' })).body.papers.mappings.properties);

  const before = (await client.count({ index: 'papers' })).body.count;
  const raw = (body: string) => fetch(`${server.address}/_os/papers/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body }).then(async (r) => ({ status: r.status, json: await r.json() }));
  const noAction = await raw('{"index":{"_id":"z1"}}\n{"title":"ok"}\n{"title":"a source where an action belongs"}\n{"year":1}\n');
  t.same([noAction.status, noAction.json.error.type], [400, 'illegal_argument_exception']);
  t.match(noAction.json.error.reason, /Malformed action\/metadata line \[3\]/);
  const noBody = await raw('{"index":{"_id":"z2"}}\n{"title":"ok"}\n{"index":{"_id":"z3"}}\n');
  t.same([noBody.status, noBody.json.error.type], [400, 'illegal_argument_exception']);
  const noNewline = await raw('{"index":{"_id":"z4"}}\n{"title":"ok"}');
  t.match(noNewline.json.error.reason, 'The bulk request must be terminated by a newline [\\n]');
  t.equal((await client.count({ index: 'papers' })).body.count, before, 'a refused bulk body wrote none of its lines');
  const noIndex = await fetch(`${server.address}/_os/_bulk`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"index":{"_id":"z5"}}\n{"title":"x"}\n' }).then((r) => r.json());
  t.equal(noIndex.error.type, 'action_request_validation_exception');

  for (const [query, clause] of [
    [{ fuzzy: { title: 'sparow' } }, 'fuzzy'],
    [{ match: { title: { query: 'x', operator: 'and' } } }, 'operator'],
    [{ query_string: { query: 'x' } }, 'query_string'],
    [{ bool: { must: [{ match: { title: 'a' } }, { match: { abstract: 'b' } }] } }, 'bool'],
  ] as const) {
    const refused = await failure(client.search({ index: 'papers', body: { query } as never }));
    t.same([refused.status, refused.body.error.type], [400, 'parsing_exception'], `${clause}: 400 parsing_exception`);
    t.match(refused.body.error.reason, clause, `${clause}: the clause is named`);
  }
  const aggs = await failure(client.search({ index: 'papers', body: { aggs: { v: { terms: { field: 'venue' } } } } }));
  t.match(aggs.body.error.reason, '[aggs]');
  const unknownQuery = await failure(client.search({ index: 'papers', body: { query: { colour: {} } } as never }));
  t.match(unknownQuery.body.error.reason, 'unknown query [colour]');
  const route = await fetch(`${server.address}/_os/papers/_nothing`).then(async (r) => ({ status: r.status, json: await r.json() }));
  t.match(route.json.error, 'no handler found for uri [/papers/_nothing] and method [GET]');
});

t.test('_cat/indices and index management', async (t) => {
  const cat = await client.cat.indices({ format: 'json' });
  const names = (cat.body as { index: string }[]).map((r) => r.index).sort();
  t.ok(['hybrid', 'papers', 'passages', 'vectors'].every((n) => names.includes(n)), `listed: ${names.join(', ')}`);
  t.equal((await client.indices.exists({ index: 'papers' })).statusCode, 200);
  t.equal((await client.indices.delete({ index: 'vectors' })).body.acknowledged, true);
  t.equal((await client.indices.exists({ index: 'vectors' })).statusCode, 404);
  t.equal((await client.indices.refresh({ index: 'papers' })).statusCode, 200);
});
