import t from 'tap';
import { processHybrid } from '../src/fusion/processors.js';
import { SeededRandom } from '../src/common/random.js';

const hits = (pairs: [string, number][]) => pairs.map(([id, score]) => ({ id, score }));

t.test('min_max: OpenSearch\'s edge cases', async (t) => {
  const lists = [hits([['a', 3], ['b', 2], ['c', 1]]), hits([['b', 0.9]])];
  const out = processHybrid(lists, { normalization: 'min_max' });
  const byId = Object.fromEntries(out.map((h) => [h.id, h]));
  t.same(byId['c']!.normalized, [0.001, undefined], 'the minimum normalizes to 0.001, not 0: the document still counts as found');
  t.same(byId['b']!.normalized, [0.5, 1], 'a lone score in its list is 1');
  t.equal(byId['b']!.score, Math.fround(0.75), 'arithmetic mean over the lists that returned it');
  t.equal(byId['a']!.score, 1, 'a list that did not return the document does not count in its mean');
  t.equal(out.length, 3, 'as many hits as the longest list');
  const weighted = processHybrid(lists, { normalization: 'min_max', weights: [0.2, 0.8] });
  t.equal(weighted.find((h) => h.id === 'b')!.score, Math.fround((0.2 * 0.5 + 0.8 * 1) / 1), 'weighted mean');
  t.throws(() => processHybrid(lists, { normalization: 'min_max', weights: [1] }), RangeError, 'one weight per sub-query');
});

t.test('l2, z_score and rrf against their formulas on seeded lists', async (t) => {
  const random = new SeededRandom(11);
  const failures: string[] = [];
  let checked = 0;
  for (let trial = 0; trial < 50; trial++) {
    const lists = [0, 1].map(() => {
      const n = 1 + random.nextInt(12);
      return Array.from({ length: n }, (_, i) => ({ id: `d${random.nextInt(20)}#${i}`.split('#')[0]!, score: Math.fround(random.nextFloat() * 10) }))
        .filter((h, i, all) => all.findIndex((x) => x.id === h.id) === i)
        .sort((a, b) => b.score - a.score);
    });
    const weights = [Math.fround(random.nextFloat()), Math.fround(random.nextFloat())];
    for (const normalization of ['l2', 'z_score', 'rrf'] as const) {
      const norms = lists.map((list) => {
        const scores = list.map((h) => h.score);
        if (normalization === 'l2') {
          const norm = Math.sqrt(scores.reduce((s, x) => s + x * x, 0));
          return scores.map((x) => (norm === 0 ? 0 : x / norm));
        }
        if (normalization === 'rrf') return scores.map((_, i) => 1 / (60 + i + 1));
        const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
        const sd = Math.sqrt(scores.reduce((s, x) => s + (x - mean) ** 2, 0) / scores.length);
        return scores.map((x) => (Math.abs(x - mean) < 1e-6 ? 1 : (x - mean) / sd));
      });
      const expected = new Map<string, { sum: number; w: number }>();
      lists.forEach((list, q) => list.forEach((h, i) => {
        const e = expected.get(h.id) ?? { sum: 0, w: 0 };
        expected.set(h.id, { sum: e.sum + weights[q]! * norms[q]![i]!, w: e.w + weights[q]! });
      }));
      const out = processHybrid(lists, { normalization, weights });
      let worst = 0;
      for (const h of out) {
        const e = expected.get(h.id)!;
        const want = normalization === 'rrf' ? e.sum : e.w === 0 ? 0 : e.sum / e.w;
        worst = Math.max(worst, Math.abs(h.score - want) / Math.max(1, Math.abs(want)));
      }
      checked += out.length;
      if (worst > 1e-5) failures.push(`trial ${trial}, ${normalization}: off by ${worst}`);
      for (let i = 1; i < out.length; i++) if (out[i - 1]!.score < out[i]!.score) failures.push(`trial ${trial}, ${normalization}: not sorted`);
    }
  }
  t.same(failures, [], `50 seeded trials of l2, z_score and rrf, ${checked} fused hits within 1e-5 of their formulas`);
  t.ok(checked > 500, 'the trials fused enough hits to mean something');
});
