import fs from 'node:fs';
import path from 'node:path';
import { AutoTokenizer } from '@huggingface/transformers';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import t from 'tap';
import { buildTinyBertOnnx } from '../scripts/tiny-model/tiny-bert.js';
import { createEncoder, normalizeEncoderConfig } from '../src/encoders/registry.js';
import { pruneTokenWeights, SpladeEncoder, type TokenWeights } from '../src/encoders/splade.js';
import { tinyModelFolder } from './support/tiny-model.js';
import { tempDir } from './support/tmp.js';

const TOLERANCE = 1e-5;

const documents = [
  { title: 'White matter', text: 'Microstructural development of human newborn cerebral white matter assessed in vivo by diffusion tensor imaging.' },
  { title: '', text: 'hello' },
  { title: 'Long', text: 'Alterations of the architecture of cerebral white matter in the developing human brain can affect cortical development. '.repeat(12) },
  { text: 'A document with no title field at all, and numbers 12 345.' },
];

/**
 * The independent computation: the tokenizer called directly, onnxruntime run on one text at a
 * time (no batching, no padding), log(1 + ReLU) applied to every logit and max-pooled by hand.
 * Returns a dense weight per vocabulary id.
 */
async function referenceVectors(modelDir: string, texts: readonly string[], maxLength: number): Promise<Float64Array[]> {
  const tokenizer = await AutoTokenizer.from_pretrained(modelDir, { local_files_only: true });
  const session = await InferenceSession.create(path.join(modelDir, 'onnx', 'model.onnx'));
  const vectors: Float64Array[] = [];
  for (const text of texts) {
    const ids = (tokenizer(text, { truncation: true, max_length: maxLength, return_tensor: false }) as unknown as { input_ids: number[] }).input_ids;
    const n = ids.length;
    const dims = [1, n];
    const output = await session.run({
      input_ids: new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), dims),
      attention_mask: new Tensor('int64', new BigInt64Array(n).fill(1n), dims),
      token_type_ids: new Tensor('int64', new BigInt64Array(n), dims),
    });
    const logits = output['logits']!.data as Float32Array;
    const vocab = logits.length / n;
    const pooled = new Float64Array(vocab);
    for (let token = 0; token < n; token++) {
      for (let v = 0; v < vocab; v++) pooled[v] = Math.max(pooled[v]!, Math.log(1 + Math.max(0, logits[token * vocab + v]!)));
    }
    vectors.push(pooled);
  }
  await session.release();
  return vectors;
}

function denseOf(terms: Map<string, number>, vocabulary: readonly string[]): Float64Array {
  const index = new Map(vocabulary.map((token, id) => [token, id]));
  const dense = new Float64Array(vocabulary.length);
  for (const [token, weight] of terms) {
    const id = index.get(token);
    if (id === undefined) throw new Error(`term ${token} is not in the vocabulary`);
    dense[id] = weight;
  }
  return dense;
}

function maxDifference(a: Float64Array, b: Float64Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  return worst;
}

function textOf(d: { title?: string; text: string }): string {
  return [d.title ?? "", d.text].filter((s) => s.length > 0).join(' ');
}

t.test('the tiny model is a pure function of its seed', async (t) => {
  const a = buildTinyBertOnnx({ seed: 7, vocabSize: 500 });
  const b = buildTinyBertOnnx({ seed: 7, vocabSize: 500 });
  const c = buildTinyBertOnnx({ seed: 8, vocabSize: 500 });
  t.equal(a.length, b.length);
  t.ok(Buffer.from(a).equals(Buffer.from(b)), 'same seed, same bytes');
  t.notOk(Buffer.from(a).equals(Buffer.from(c)), 'another seed, other weights');
});

t.test('SPLADE vectors through transformers.js equal onnxruntime run directly and pooled by hand', async (t) => {
  const modelDir = tinyModelFolder(t);
  const maxLength = 64;
  const encoder = createEncoder({ type: 'splade', model: modelDir, maxLength, batchSize: 3 }) as SpladeEncoder;
  t.equal(encoder.scoring, 'dot');
  t.same(encoder.fieldNames, ['contents']);
  await encoder.load();
  t.equal(encoder.vocabulary.length, 30522);
  t.equal(encoder.vocabulary[7592], 'hello', 'term names are the tokenizer vocabulary');

  const encoded = await encoder.encodeDocumentsAsync(documents);
  const expected = await referenceVectors(modelDir, documents.map(textOf), maxLength);
  t.equal(encoded.length, documents.length);
  for (let i = 0; i < documents.length; i++) {
    const terms = encoded[i]!.terms[0]!;
    t.ok(terms.size > 0 && terms.size < 30522, `document ${i} has a sparse vector (${terms.size} terms)`);
    for (const weight of terms.values()) if (!(weight > 0)) t.fail(`document ${i} holds a weight ${weight} <= 0`);
    const difference = maxDifference(denseOf(terms, encoder.vocabulary), expected[i]!);
    t.ok(difference <= TOLERANCE, `document ${i}: largest difference ${difference.toExponential(2)} <= ${TOLERANCE}`);
    t.equal(encoded[i]!.lengths[0], terms.size, 'the field length is the number of terms');
  }

  // A query in model mode is the same model run on the query text.
  const query = await encoder.encodeQueryAsync('white matter diffusion');
  const [queryExpected] = await referenceVectors(modelDir, ['white matter diffusion'], maxLength);
  t.ok(maxDifference(denseOf(query.terms[0]!, encoder.vocabulary), queryExpected!) <= TOLERANCE, 'query vector matches');
  t.throws(() => encoder.encodeDocument(), { code: 'ENCODER_NEEDS_ASYNC' });
  t.throws(() => encoder.encodeQuery('white matter'), { code: 'ENCODER_NEEDS_ASYNC' });
  t.same(encoder.vectorQuery({ hello: 0.5 }).terms[0], new Map([['hello', 0.5]]));
  await encoder.dispose();
});

t.test('batching, length grouping and truncation do not change vectors', async (t) => {
  const modelDir = tinyModelFolder(t);
  const batched = createEncoder({ type: 'splade', model: modelDir, maxLength: 16, batchSize: 4 }) as SpladeEncoder;
  const single = createEncoder({ type: 'splade', model: modelDir, maxLength: 16, batchSize: 1 }) as SpladeEncoder;
  const texts = documents.map(textOf);
  const a = await batched.encodeDocumentTexts(texts);
  const b = await single.encodeDocumentTexts(texts);
  for (let i = 0; i < texts.length; i++) {
    t.same([...a[i]!.ids], [...b[i]!.ids], `text ${i}: same terms`);
    let worst = 0;
    for (let j = 0; j < a[i]!.weights.length; j++) worst = Math.max(worst, Math.abs(a[i]!.weights[j]! - b[i]!.weights[j]!));
    t.ok(worst <= TOLERANCE, `text ${i}: weights within ${TOLERANCE}`);
  }
  const truncated = await batched.encodeDocumentTexts([texts[2]!, texts[2]! + ' and more words that fall past the limit']);
  t.same([...truncated[0]!.ids], [...truncated[1]!.ids], 'words past maxLength change nothing');
  await batched.dispose();
  await single.dispose();
});

t.test('pruning keeps the largest terms and those above the threshold', async (t) => {
  const modelDir = tinyModelFolder(t);
  const full = createEncoder({ type: 'splade', model: modelDir, maxLength: 64 }) as SpladeEncoder;
  const pruned = createEncoder({ type: 'splade', model: modelDir, maxLength: 64, docTopK: 10, queryThreshold: 0.5 }) as SpladeEncoder;
  const text = textOf(documents[0]!);
  const [reference] = await full.encodeDocumentTexts([text]);
  const [topTen] = await pruned.encodeDocumentTexts([text]);
  const ranked = [...reference!.ids].map((id, i) => ({ id, w: reference!.weights[i]! })).sort((a, b) => b.w - a.w || a.id - b.id);
  t.same([...topTen!.ids], ranked.slice(0, 10).map((x) => x.id).sort((a, b) => a - b), 'docTopK keeps the ten largest');
  const query = await pruned.encodeQueryText(text);
  t.ok(query.weights.length > 0 && query.weights.every((w) => w >= 0.5), 'queryThreshold drops weights below 0.5');
  t.equal(query.weights.length, reference!.weights.filter((w) => w >= 0.5).length, 'and keeps every other');
  await full.dispose();
  await pruned.dispose();
});

t.test('pruneTokenWeights: hand-computed cases', async (t) => {
  const vector: TokenWeights = { ids: Uint32Array.of(1, 4, 7, 9), weights: Float32Array.of(0.2, 0.9, 0.5, 0.5) };
  const top2 = pruneTokenWeights(vector, { topK: 2 });
  t.same([...top2.ids], [4, 7], 'ties go to the smaller id');
  const above = pruneTokenWeights(vector, { threshold: 0.5 });
  t.same([...above.ids], [4, 7, 9]);
  const both = pruneTokenWeights(vector, { threshold: 0.3, topK: 1 });
  t.same([...both.ids], [4]);
  t.same(both.weights[0], Math.fround(0.9));
  t.equal(pruneTokenWeights(vector, {}), vector, 'no settings, no copy');
});

t.test('a separate query model encodes queries', async (t) => {
  const documentModel = tinyModelFolder(t, { seed: 1 });
  const queryModel = tinyModelFolder(t, { seed: 2 });
  const encoder = createEncoder({ type: 'splade', model: documentModel, queryModel }) as SpladeEncoder;
  const queryOnly = createEncoder({ type: 'splade', model: queryModel }) as SpladeEncoder;
  const fromQueryModel = await encoder.encodeQueryText('white matter');
  const [direct] = await queryOnly.encodeDocumentTexts(['white matter']);
  const [asDocument] = await encoder.encodeDocumentTexts(['white matter']);
  t.same([...fromQueryModel.ids], [...direct!.ids], 'queries go through the query model');
  t.notSame([...fromQueryModel.ids], [...asDocument!.ids], 'documents through the other one');
  await encoder.dispose();
  await queryOnly.dispose();
});

t.test('a missing model says which folder and which files', async (t) => {
  const dir = tempDir(t);
  const absent = path.join(dir, 'no-such-model');
  const encoder = createEncoder({ type: 'splade', model: absent });
  await t.rejects(encoder.load!(), { code: 'MODEL_NOT_FOUND', message: new RegExp(`${absent}.*config\\.json, tokenizer\\.json, tokenizer_config\\.json, onnx/model\\.onnx`) });

  const partial = tinyModelFolder(t, { vocabSize: 30522 });
  fs.rmSync(path.join(partial, 'onnx', 'model.onnx'));
  await t.rejects(createEncoder({ type: 'splade', model: partial }).load!(), { code: 'MODEL_FILES_MISSING', message: /lacks onnx\/model\.onnx/ });

  const mismatched = tinyModelFolder(t, { vocabSize: 1000 });
  await t.rejects(createEncoder({ type: 'splade', model: mismatched }).load!(), { code: 'MODEL_TOKENIZER_MISMATCH' });
});

t.test('configuration: defaults filled, bad values refused', async (t) => {
  const dir = tempDir(t);
  const config = normalizeEncoderConfig({ type: 'splade', model: dir });
  t.same(config, { type: 'splade', model: dir, queryMode: 'model', maxLength: 256, batchSize: 16, textFields: ['title', 'text'] });
  const relative = normalizeEncoderConfig({ type: 'splade', model: path.relative(process.cwd(), dir) });
  t.equal(relative['model'], dir, 'a relative folder becomes absolute');
  t.equal(normalizeEncoderConfig({ type: 'splade', model: 'naver/splade-v3' })['model'], 'naver/splade-v3', 'a hub id stays an id');
  for (const bad of [{ maxLength: 0 }, { batchSize: 1.5 }, { docTopK: -1 }, { queryThreshold: -0.1 }, { queryMode: 'fast' }, { queryMode: 'inference-free' }, { model: '' }]) {
    t.throws(() => createEncoder({ type: 'splade', model: dir, ...bad }), { code: 'INVALID_ENCODER_CONFIG' }, JSON.stringify(bad));
  }
});
