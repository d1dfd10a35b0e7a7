import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import { toIngestDocument } from '../src/engine/documents.js';
import { sortedVector } from '../src/engine/dictionary.js';
import { SeededRandom } from '../src/common/random.js';
import { tempDir } from './support/tmp.js';

const docs = (rows: Record<string, unknown>[]) => rows.map(toIngestDocument);

t.test('index, search, upsert and delete through one collection', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const c = engine.createCollection('papers');
  const result = c.upsert(
    docs([
      { _id: 'd1', title: 'Cats and dogs', text: 'Cats chase mice. Dogs chase cats.' },
      { _id: 'd2', title: 'Mice', text: 'Mice eat cheese.' },
      { _id: 'd3', title: 'Birds', text: 'Birds fly south in winter.', year: 2020 },
    ]),
  );
  t.same(result, { inserted: 3, updated: 0, rejected: [] });
  let hits = c.search({ query: 'cat', k: 10 }).hits;
  t.same(hits.map((h) => h.id), ['d1'], 'stemmed query matches stemmed document');
  hits = c.search({ query: 'mice cheese', k: 10 }).hits;
  t.same(hits.map((h) => h.id), ['d2', 'd1'], 'Porter leaves mice as it is, and the document with both terms wins');

  // Upsert replaces the old version at once, in search and in statistics.
  t.same(c.upsert(docs([{ _id: 'd2', title: 'Birds again', text: 'No rodents here.' }])).updated, 1);
  t.same(c.search({ query: 'cheese', k: 10 }).hits, []);
  t.same(c.search({ query: 'birds', k: 10 }).hits.map((h) => h.id).sort(), ['d2', 'd3']);
  t.equal(c.statistics().documents, 3);

  // Delete removes from search at once.
  t.equal(c.delete(['d3', 'nope']), 1);
  t.same(c.search({ query: 'winter', k: 10 }).hits, []);
  t.same(c.get('d3'), undefined);
  t.same(c.get('d1')?.fields['title'], 'Cats and dogs');
});

t.test('explain lists every contributing term and adds up to the score', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const c = engine.createCollection('x');
  c.upsert(docs([
    { _id: 'a', text: 'sparse retrieval with learned term weights' },
    { _id: 'b', text: 'dense retrieval with embeddings' },
    { _id: 'c', text: 'gardening in spring' },
  ]));
  const [hit] = c.search({ query: 'learned sparse retrieval', k: 1, explain: true, fields: ['text'] }).hits;
  t.equal(hit!.id, 'a');
  t.same(hit!.fields, { text: 'sparse retrieval with learned term weights' });
  t.same(hit!.explain!.map((e) => e.term).sort(), ['learn', 'retriev', 'spars']);
  const sum = hit!.explain!.reduce((s, e) => s + e.score, 0);
  t.ok(Math.abs(sum - hit!.score) < 1e-6, `${sum} vs ${hit!.score}`);
});

t.test('ties are ordered by id descending, as trec_eval orders them', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const c = engine.createCollection('ties');
  c.upsert(docs(['m', 'b', 'z', 'a'].map((id) => ({ _id: id, text: 'identical words here' }))));
  const hits = c.search({ query: 'identical', k: 3 }).hits;
  t.same(hits.map((h) => h.id), ['z', 'm', 'b']);
  t.equal(new Set(hits.map((h) => h.score)).size, 1);
});

t.test('bad queries and documents get coded errors', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const c = engine.createCollection('bad');
  const r = c.upsert(docs([{ _id: 'empty', title: '', text: '   ' }, { _id: 'stop', text: 'the and of' }]));
  t.equal(r.inserted, 1, 'text of stop words only is still a document');
  t.same(r.rejected.map((x) => [x.id, x.code]), [['empty', 'EMPTY_DOCUMENT']]);
  t.throws(() => c.search({ query: '   ' }), { code: 'EMPTY_QUERY' });
  t.throws(() => c.search({ query: {} }), { code: 'EMPTY_QUERY' });
  t.throws(() => c.search({ query: { cat: Number.NaN } }), { code: 'INVALID_WEIGHT' });
  t.throws(() => c.search({ query: { cat: -1 } }), { code: 'NEGATIVE_WEIGHT' });
  t.throws(() => c.search({ query: 'x', k: 0 }), { code: 'INVALID_K' });
  t.throws(() => c.search({ query: 'x', k: 1.5 }), { code: 'INVALID_K' });
  const stopOnly = c.search({ query: 'the of' });
  t.same(stopOnly.hits, []);
  t.ok(stopOnly.warnings?.length);
  t.throws(() => engine.collection('missing'), { code: 'COLLECTION_NOT_FOUND' });
  t.throws(() => toIngestDocument({ title: 'no id' }), { code: 'MISSING_ID' });
  t.throws(() => toIngestDocument({ _id: ['x'] }), { code: 'INVALID_ID' });
  t.throws(() => toIngestDocument([1]), { code: 'INVALID_DOCUMENT' });
});

t.test('a second process writing to the same data directory is picked up', async (t) => {
  const dir = tempDir(t);
  const reader = Engine.open(dir);
  const writer = Engine.open(dir);
  t.teardown(() => {
    reader.close();
    writer.close();
  });
  writer.createCollection('shared').upsert(docs([{ _id: '1', text: 'first version' }]));
  const view = reader.collection('shared');
  t.same(view.search({ query: 'first' }).hits.map((h) => h.id), ['1']);
  writer.collection('shared').upsert(docs([{ _id: '2', text: 'second arrival' }, { _id: '1', text: 'replaced' }]));
  t.same(view.search({ query: 'second' }).hits.map((h) => h.id), ['2']);
  t.same(view.search({ query: 'first' }).hits, []);
});

t.test('exact engine equals a brute-force BM25 over random collections', async (t) => {
  const { EnglishAnalyzer } = await import('../src/analysis/english-analyzer.js');
  const analyzer = new EnglishAnalyzer();
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo', 'lima'];
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let round = 0; round < 5; round++) {
    const engine = Engine.open(tempDir(t));
    const c = engine.createCollection('r');
    const texts = new Map<string, string>();
    for (let i = 0; i < 60; i++) {
      const n = 1 + Math.floor(random() * 23);
      const text = Array.from({ length: n }, () => words[Math.floor(random() * random() * words.length)]).join(' ');
      texts.set(`doc${i}`, text);
    }
    c.upsert([...texts].map(([id, text]) => ({ id, fields: { text } })));
    // Brute force, written independently in doubles: idf * tf / (tf + k1 (1 - b + b dl/avgdl)).
    const tokens = new Map([...texts].map(([id, text]) => [id, analyzer.analyze(text)]));
    const avgdl = [...tokens.values()].reduce((s, x) => s + x.length, 0) / tokens.size;
    const query = Array.from({ length: 3 }, () => words[Math.floor(random() * words.length)]).join(' ');
    const qTerms = analyzer.analyze(query);
    const expected = [...tokens].map(([id, toks]) => {
      let score = 0;
      for (const term of new Set(qTerms)) {
        const boost = qTerms.filter((x) => x === term).length;
        const df = [...tokens.values()].filter((x) => x.includes(term)).length;
        const tf = toks.filter((x) => x === term).length;
        if (tf === 0) continue;
        const idf = Math.log(1 + (tokens.size - df + 0.5) / (df + 0.5));
        const dl = toks.length; // lengths here are < 24, stored exactly by the one-byte norm
        score += (boost * idf * tf) / (tf + 0.9 * (1 - 0.4 + (0.4 * dl) / avgdl));
      }
      return { id, score };
    }).filter((x) => x.score > 0);
    const hits = c.search({ query, k: 100 }).hits;
    t.equal(hits.length, expected.length, `round ${round}: same number of matches`);
    const byId = new Map(expected.map((x) => [x.id, x.score]));
    const worst = Math.max(0, ...hits.map((h) => Math.abs(h.score - byId.get(h.id)!)));
    t.ok(worst < 1e-4, `round ${round}: largest score difference ${worst}`);
    for (let i = 1; i < hits.length; i++) t.ok(hits[i - 1]!.score >= hits[i]!.score);
    engine.close();
  }
});

t.test('sortedVector: the radix sort orders by id, keeps equal ids in encounter order, and agrees with a comparison sort', (t) => {
  const random = new SeededRandom(17);
  for (let round = 0; round < 500; round++) {
    const count = random.nextInt(400);
    // Ids of every width (1 to 4 radix passes), some repeated, some already sorted.
    const range = [300, 70_000, 20_000_000, 4_000_000_000][round % 4]!;
    const ids = Array.from({ length: count }, () => random.nextInt(range));
    if (round % 5 === 0) ids.sort((a, b) => a - b);
    const values = Array.from({ length: count }, (_, i) => i + 0.5);
    const expected = ids.map((id, i) => [id, values[i]!] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    const padded = [7, 7, ...ids];
    const { indices, values: sortedValues } = sortedVector(padded, [0, 0, ...values], count, 2);
    if (indices.length !== count || expected.some(([id, value], i) => indices[i] !== id || sortedValues[i] !== value)) t.fail(`round ${round} (count ${count}, ids below ${range})`);
  }
  t.same([...sortedVector([5, 1, 5, 0], [1, 2, 3, 4], 4).values], [4, 2, 1, 3], 'by hand: equal ids keep their order');
  t.end();
});
