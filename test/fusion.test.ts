import t, { type Test } from 'tap';
import { SeededRandom } from '../src/common/random.js';
import { fuse, fusionSpec, type FusedHit, type RankedList } from '../src/fusion/fuse.js';
import { normalizeScores } from '../src/fusion/normalize.js';

const A: RankedList = { name: 'sparse', hits: [{ id: 'a', score: 3 }, { id: 'b', score: 2 }, { id: 'c', score: 1 }] };
const B: RankedList = { name: 'dense', hits: [{ id: 'c', score: 0.9 }, { id: 'd', score: 0.5 }] };

function check(t: Test, hits: FusedHit[], expected: [string, number][], tolerance = 1e-9): void {
  t.same(hits.map((h) => h.id), expected.map((e) => e[0]), 'order');
  for (let i = 0; i < expected.length; i++) {
    t.ok(Math.abs(hits[i]!.score - expected[i]![1]) <= tolerance, `${expected[i]![0]}: ${hits[i]!.score} ~ ${expected[i]![1]}`);
  }
}

t.test('reciprocal rank fusion, by hand', async (t) => {
  check(t, fuse([A, B], fusionSpec({ method: 'rrf' })), [
    ['c', 1 / 63 + 1 / 61],
    ['a', 1 / 61],
    ['d', 1 / 62], // ties with b: the larger id first, as trec_eval orders ties
    ['b', 1 / 62],
  ]);
  check(t, fuse([A, B], fusionSpec({ method: 'rrf', weights: [2, 1], k: 10 })), [
    ['c', 2 / 13 + 1 / 11],
    ['a', 2 / 11],
    ['b', 2 / 12],
    ['d', 1 / 12],
  ]);
  check(t, fuse([A, B], fusionSpec({ method: 'rrf', depth: 1 })), [
    ['c', 1 / 61],
    ['a', 1 / 61],
  ]);
  t.equal(fuse([A, B], fusionSpec({ method: 'rrf' }), { k: 2 }).length, 2, 'k cuts the fused list');
});

t.test('convex combination with each normalization, by hand', async (t) => {
  // min-max: sparse a 1, b 0.5, c 0; dense c 1, d 0; a missing document takes the list's minimum (0).
  check(t, fuse([A, B], fusionSpec({ method: 'convex', weights: [0.3, 0.7] })), [
    ['c', 0.7],
    ['a', 0.3],
    ['b', 0.15],
    ['d', 0],
  ]);
  // z-score: sparse mean 2, std sqrt(2/3); dense mean 0.7, std 0.2.
  const z = 1 / Math.sqrt(2 / 3);
  check(t, fuse([A, B], fusionSpec({ method: 'convex', weights: [0.5, 0.5], normalization: 'z-score' })), [
    ['a', 0.5 * z - 0.5],
    ['c', -0.5 * z + 0.5],
    ['b', -0.5],
    ['d', -0.5 * z - 0.5],
  ]);
  check(t, fuse([A, B], fusionSpec({ method: 'convex', weights: [0.5, 0.5], normalization: 'z-score', missing: 'zero' })), [
    ['a', 0.5 * z],
    ['b', 0],
    ['c', -0.5 * z + 0.5],
    ['d', -0.5],
  ]);
  // theoretical min-max: sparse [0, observed max 3], dense [-1, 1].
  check(
    t,
    fuse([A, B], fusionSpec({ method: 'convex', weights: [0.5, 0.5], normalization: 'theoretical-min-max', bounds: [{ min: 0 }, { min: -1, max: 1 }] })),
    [
      ['a', 0.5 + 0.5 * 0.75],
      ['b', 0.5 * (2 / 3) + 0.5 * 0.75],
      ['c', 0.5 * (1 / 3) + 0.5 * 0.95],
      ['d', 0.5 * (1 / 3) + 0.5 * 0.75],
    ],
  );
  // L2: sparse norm sqrt(14), dense norm sqrt(1.06).
  const s = Math.sqrt(14);
  const d = Math.sqrt(1.06);
  check(t, fuse([A, B], fusionSpec({ method: 'convex', weights: [0.5, 0.5], normalization: 'l2', missing: 'zero' })), [
    ['c', 0.5 / s + 0.45 / d],
    ['a', 1.5 / s],
    ['b', 1 / s],
    ['d', 0.25 / d],
  ]);
  check(t, fuse([A, B], fusionSpec({ method: 'convex', weights: [1, 1], normalization: 'none', missing: -1 })), [
    ['a', 2],
    ['c', 1.9],
    ['b', 1],
    ['d', -0.5],
  ]);
});

t.test('explain shows every list\'s part', async (t) => {
  const [first] = fuse([A, B], fusionSpec({ method: 'convex', weights: [0.3, 0.7] }), { explain: true });
  t.same(first, {
    id: 'c',
    score: 0.7,
    components: [
      { list: 'sparse', rank: 3, score: 1, normalized: 0, weight: 0.3, contribution: 0 },
      { list: 'dense', rank: 1, score: 0.9, normalized: 1, weight: 0.7, contribution: 0.7 },
    ],
  });
  const rrf = fuse([A, B], fusionSpec({ method: 'rrf' }), { explain: true });
  const d = rrf.find((h) => h.id === 'd')!;
  t.same(d.components, [
    { list: 'sparse', rank: null, score: null, weight: 1, contribution: 0 },
    { list: 'dense', rank: 2, score: 0.5, weight: 1, contribution: 1 / 62 },
  ]);
  const sum = d.components!.reduce((acc, c) => acc + c.contribution, 0);
  t.equal(sum, d.score, 'components add up to the score');
  t.notOk('components' in fuse([A, B], fusionSpec({ method: 'rrf' }))[0]!, 'no explanation unless asked');
});

t.test('a repeated id keeps its first rank; an empty list adds nothing', async (t) => {
  const repeated: RankedList = { name: 'r', hits: [{ id: 'x', score: 5 }, { id: 'x', score: 4 }, { id: 'y', score: 3 }] };
  check(t, fuse([repeated], fusionSpec({ method: 'rrf' })), [
    ['x', 1 / 61],
    ['y', 1 / 62],
  ]);
  check(t, fuse([A, { name: 'empty', hits: [] }], fusionSpec({ method: 'convex', weights: [1, 1] })), [
    ['a', 1],
    ['b', 0.5],
    ['c', 0],
  ]);
  t.same(fuse([], fusionSpec({ method: 'rrf' })), []);
});

/** The slow independent fusion: per document, per list, a linear search for its rank. */
function referenceFusion(lists: RankedList[], method: 'rrf' | 'convex-min-max', weights: number[], depth: number): Map<string, number> {
  const windows = lists.map((l) => l.hits.slice(0, depth));
  const ids = new Set(windows.flatMap((w) => w.map((h) => h.id)));
  const out = new Map<string, number>();
  for (const id of ids) {
    let total = 0;
    windows.forEach((window, l) => {
      const rank = window.findIndex((h) => h.id === id);
      if (method === 'rrf') {
        if (rank >= 0) total += weights[l]! / (60 + rank + 1);
        return;
      }
      const scores = window.map((h) => h.score);
      const lo = Math.min(...scores);
      const hi = Math.max(...scores);
      total += weights[l]! * (rank >= 0 ? (hi > lo ? (window[rank]!.score - lo) / (hi - lo) : 1) : 0);
    });
    out.set(id, total);
  }
  return out;
}

t.test('fusion agrees with a slow independent computation on random lists', async (t) => {
  const random = new SeededRandom(2024);
  const failures: string[] = [];
  let fusedHits = 0;
  for (let trial = 0; trial < 50; trial++) {
    const lists: RankedList[] = [];
    const listCount = 1 + random.nextInt(3);
    for (let l = 0; l < listCount; l++) {
      const length = random.nextInt(40);
      const ids = new Set<string>();
      while (ids.size < length) ids.add(`doc${random.nextInt(60)}`);
      let score = 10 * random.nextFloat();
      lists.push({ name: `list${l}`, hits: [...ids].map((id) => ({ id, score: (score -= random.nextFloat()) })) });
    }
    const weights = lists.map(() => random.nextFloat());
    const depth = 1 + random.nextInt(40);
    for (const method of ['rrf', 'convex-min-max'] as const) {
      const spec = method === 'rrf' ? fusionSpec({ method: 'rrf', weights, depth }) : fusionSpec({ method: 'convex', weights, depth, normalization: 'min-max', missing: 'zero' });
      const fused = fuse(lists, spec);
      const expected = referenceFusion(lists, method, weights, depth);
      fusedHits += fused.length;
      if (fused.length !== expected.size) failures.push(`trial ${trial} ${method}: ${fused.length} hits, expected ${expected.size}`);
      let worst = 0;
      for (let i = 0; i < fused.length; i++) {
        worst = Math.max(worst, Math.abs(fused[i]!.score - expected.get(fused[i]!.id)!));
        if (i > 0 && fused[i]!.score > fused[i - 1]!.score) failures.push(`trial ${trial} ${method}: not sorted at ${i}`);
      }
      if (worst > 1e-12) failures.push(`trial ${trial} ${method}: difference ${worst}`);
    }
  }
  t.same(failures, [], `50 random trials, both methods, ${fusedHits} fused hits within 1e-12 of the independent computation`);
  t.ok(fusedHits > 500, 'the trials fused enough hits to mean something');
});

t.test('normalizations on degenerate lists', async (t) => {
  t.same([...normalizeScores(Float64Array.of(2, 2), 'min-max')], [1, 1], 'all equal: every document is the best');
  t.same([...normalizeScores(Float64Array.of(2, 2), 'z-score')], [0, 0]);
  t.same([...normalizeScores(Float64Array.of(0, 0), 'l2')], [0, 0]);
  t.same([...normalizeScores(new Float64Array(0), 'min-max')], []);
  t.throws(() => normalizeScores(Float64Array.of(1), 'theoretical-min-max'));
});

t.test('fusion settings: defaults and refusals', async (t) => {
  t.same(fusionSpec({}), { method: 'rrf', k: 60, weights: undefined, depth: 1000 });
  t.same(fusionSpec({ method: 'convex', weights: [0.5, 0.5] }), {
    method: 'convex',
    weights: [0.5, 0.5],
    normalization: 'min-max',
    bounds: undefined,
    depth: 1000,
    missing: 'min',
  });
  const bad: Record<string, unknown>[] = [
    { method: 'borda' },
    { depth: 0 },
    { method: 'rrf', k: -1 },
    { method: 'convex' },
    { method: 'convex', weights: [0.5, -0.5] },
    { method: 'convex', weights: [1], normalization: 'softmax' },
    { method: 'convex', weights: [1], normalization: 'theoretical-min-max' },
    { method: 'convex', weights: [1], missing: 'max' },
  ];
  for (const b of bad) t.throws(() => fusionSpec(b), { code: 'INVALID_FUSION' }, JSON.stringify(b));
  t.throws(() => fusionSpec({ method: 'rrf', weights: [1, 2, 3] }, 2), { code: 'INVALID_FUSION' }, 'weights must match the lists');
  t.throws(() => fuse([A, B], fusionSpec({ method: 'rrf', weights: [1] })), { code: 'INVALID_FUSION' });
});
