/**
 * Fusion overhead per query: two ranked lists (sparse and dense, `depth` hits each, a third of the
 * ids shared) fused by each method; median and p99 microseconds over many queries, next to the
 * cost of merely copying the inputs (the floor any fusion pays).
 *
 *   node dist/scripts/bench-fusion.js [--depth 1000] [--queries 300] [--k 1000]
 */
import { fuse, fusionSpec, type RankedList } from '../src/fusion/fuse.js';
import { SeededRandom } from '../src/common/random.js';

function argument(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const depth = argument('depth', 1000);
const queries = argument('queries', 300);
const k = argument('k', 1000);
const random = new SeededRandom(5);

function makeList(name: string, ids: string[]): RankedList {
  let score = 20 * random.nextFloat();
  return { name, hits: ids.map((id) => ({ id, score: (score -= random.nextFloat() * 0.02) })) };
}

const inputs: RankedList[][] = [];
for (let q = 0; q < queries; q++) {
  const shared = Array.from({ length: Math.floor(depth / 3) }, (_, i) => `doc-${q}-s${i}`);
  const sparseIds = [...shared, ...Array.from({ length: depth - shared.length }, (_, i) => `doc-${q}-a${i}`)];
  const denseIds = [...shared, ...Array.from({ length: depth - shared.length }, (_, i) => `doc-${q}-b${i}`)];
  // Shuffle each list so shared documents sit at different ranks.
  for (const ids of [sparseIds, denseIds]) {
    for (let i = ids.length - 1; i > 0; i--) {
      const j = random.nextInt(i + 1);
      [ids[i], ids[j]] = [ids[j]!, ids[i]!];
    }
  }
  inputs.push([makeList('sparse', sparseIds), makeList('dense', denseIds)]);
}

const settings: [string, Record<string, unknown>][] = [
  ['rrf k=60', { method: 'rrf' }],
  ['convex min-max', { method: 'convex', weights: [0.5, 0.5], normalization: 'min-max' }],
  ['convex z-score', { method: 'convex', weights: [0.5, 0.5], normalization: 'z-score' }],
  ['convex theoretical-min-max', { method: 'convex', weights: [0.5, 0.5], normalization: 'theoretical-min-max', bounds: [{ min: 0 }, { min: -1 }] }],
  ['convex l2', { method: 'convex', weights: [0.5, 0.5], normalization: 'l2' }],
];

// Every variant runs on each query in turn (interleaved), so a busy machine slows all alike.
const variants: [string, (lists: RankedList[]) => unknown][] = [['copy inputs (floor)', (lists) => lists.map((l) => l.hits.map((h) => ({ id: h.id, score: h.score })))]];
for (const [name, partial] of settings) {
  const spec = fusionSpec({ depth, ...partial });
  variants.push([name, (lists) => fuse(lists, spec, { k })]);
  variants.push([`  with explain`, (lists) => fuse(lists, spec, { k, explain: true })]);
}
const samples = variants.map(() => [] as number[]);
for (let round = 0; round < 2; round++) {
  for (const lists of inputs) {
    variants.forEach(([, run], v) => {
      const started = process.hrtime.bigint();
      run(lists);
      if (round === 1) samples[v]!.push(Number(process.hrtime.bigint() - started) / 1000);
    });
  }
}
const stats = samples.map((s) => {
  s.sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, p99: s[Math.min(s.length - 1, Math.ceil(0.99 * s.length) - 1)]! };
});
console.log(`fusion of 2 lists x ${depth} hits, top ${k} returned, ${queries} queries (microseconds per query; first round is warm-up)`);
console.log(['setting', 'median us', 'p99 us', 'x copy'].map((s, i) => (i === 0 ? s.padEnd(30) : s.padStart(10))).join(''));
variants.forEach(([name], v) => {
  const { median, p99 } = stats[v]!;
  console.log([name.padEnd(30), median.toFixed(1).padStart(10), p99.toFixed(1).padStart(10), (median / stats[0]!.median).toFixed(1).padStart(10)].join(''));
});
