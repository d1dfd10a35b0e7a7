import t from 'tap';
import {
  compareTrecIds,
  evaluate,
  measureNames,
  type Qrels,
  type Run,
  type ScoredDocument,
} from '../src/eval/metrics.js';

function qrelsOf(entries: Record<string, Record<string, number>>): Qrels {
  return new Map(Object.entries(entries).map(([queryId, judged]) => [queryId, new Map(Object.entries(judged))]));
}

function runOf(entries: Record<string, Array<[string, number]>>): Run {
  return new Map(
    Object.entries(entries).map(([queryId, docs]) => [
      queryId,
      docs.map(([docId, score]): ScoredDocument => ({ docId, score })),
    ]),
  );
}

/** Arguments for t.ok: whether `actual` equals `expected` up to rounding, and a message showing both. */
function near(actual: number | undefined, expected: number, label: string): [boolean, string] {
  return [actual !== undefined && Math.abs(actual - expected) < 1e-12, `${label}: got ${actual}, want ${expected}`];
}

const ALL_CUTOFFS = {
  ndcgCutoffs: [1, 3, 5, 10, 100, 1000],
  recallCutoffs: [3, 10, 100, 1000],
  precisionCutoffs: [5, 10],
};

t.test('graded relevance: nDCG with gains 0..3 and binary measures at threshold 1', (t) => {
  // qrels: d1=3, d2=2, d3=1, d4=0, d5=2 (d5 never retrieved).
  // Ranking by score: dA(unjudged) d2(2) d4(0) d1(3) d3(1).
  const qrels = qrelsOf({ q: { d1: 3, d2: 2, d3: 1, d4: 0, d5: 2 } });
  const run = runOf({ q: [['d3', 0.5], ['dA', 0.9], ['d1', 0.6], ['d2', 0.8], ['d4', 0.7]] });
  const values = evaluate(run, qrels, ALL_CUTOFFS).perQuery.get('q')!;

  // DCG@5 = 0/log2(2) + 2/log2(3) + 0/log2(4) + 3/log2(5) + 1/log2(6)
  //       = 1.2618595 + 1.2920297 + 0.3868528 = 2.9407420
  // ideal gains 3,2,2,1: IDCG@5 = 3/1 + 2/log2(3) + 2/log2(4) + 1/log2(5)
  //       = 3 + 1.2618595 + 1 + 0.4306766 = 5.6925361
  // nDCG@5 = 2.9407420 / 5.6925361 = 0.5165961 (same at 10, 100, 1000: nothing more retrieved)
  const dcg5 = 2 / Math.log2(3) + 3 / Math.log2(5) + 1 / Math.log2(6);
  const idcg5 = 3 + 2 / Math.log2(3) + 2 / Math.log2(4) + 1 / Math.log2(5);
  t.ok(...near(values.ndcg_cut_5, dcg5 / idcg5, 'ndcg_cut_5'));
  t.ok(Math.abs(values.ndcg_cut_5! - 0.5165961) < 1e-6, 'ndcg_cut_5 matches the written arithmetic');
  t.ok(...near(values.ndcg_cut_10, dcg5 / idcg5, 'ndcg_cut_10'));
  t.ok(...near(values.ndcg_cut_1000, dcg5 / idcg5, 'ndcg_cut_1000'));
  // nDCG@1 = 0 / 3 = 0
  t.ok(...near(values.ndcg_cut_1, 0, 'ndcg_cut_1'));
  // nDCG@3 = (2/log2(3)) / (3 + 2/log2(3) + 2/log2(4)) = 1.2618595 / 5.2618595 = 0.2398125
  t.ok(...near(values.ndcg_cut_3, 2 / Math.log2(3) / (3 + 2 / Math.log2(3) + 1), 'ndcg_cut_3'));
  t.ok(Math.abs(values.ndcg_cut_3! - 0.2398125) < 1e-6, 'ndcg_cut_3 matches the written arithmetic');

  // relevant (>= 1): d1 d2 d3 d5 -> num_rel 4; retrieved relevant at ranks 2, 4, 5.
  t.equal(values.num_ret, 5);
  t.equal(values.num_rel, 4);
  t.equal(values.num_rel_ret, 3);
  // AP = (1/2 + 2/4 + 3/5) / 4 = 1.6 / 4 = 0.4
  t.ok(...near(values.map, 0.4, 'map'));
  t.ok(...near(values.recip_rank, 0.5, 'recip_rank'));
  // P@5 = 3/5, P@10 = 3/10
  t.ok(...near(values.P_5, 0.6, 'P_5'));
  t.ok(...near(values.P_10, 0.3, 'P_10'));
  // recall@3 = 1/4 (only d2 in the top 3), recall@10 = 3/4
  t.ok(...near(values.recall_3, 0.25, 'recall_3'));
  t.ok(...near(values.recall_10, 0.75, 'recall_10'));
  t.end();
});

t.test('relevanceLevel raises the binary threshold but leaves nDCG gains alone', (t) => {
  const qrels = qrelsOf({ q: { d1: 3, d2: 2, d3: 1, d4: 0, d5: 2 } });
  const run = runOf({ q: [['dA', 0.9], ['d2', 0.8], ['d4', 0.7], ['d1', 0.6], ['d3', 0.5]] });
  const atOne = evaluate(run, qrels, ALL_CUTOFFS).perQuery.get('q')!;
  const atTwo = evaluate(run, qrels, { ...ALL_CUTOFFS, relevanceLevel: 2 }).perQuery.get('q')!;
  // relevant (>= 2): d1 d2 d5 -> num_rel 3; retrieved relevant at ranks 2 and 4.
  t.equal(atTwo.num_rel, 3);
  t.equal(atTwo.num_rel_ret, 2);
  // AP = (1/2 + 2/4) / 3 = 1/3
  t.ok(...near(atTwo.map, 1 / 3, 'map at level 2'));
  t.ok(...near(atTwo.ndcg_cut_5, atOne.ndcg_cut_5!, 'ndcg does not depend on the level'));
  t.end();
});

t.test('ties: score descending, then document id descending in string order', (t) => {
  // Scores: d=2, then a, b, c, 9, 10 all 1.0. Tie order is id descending as strings:
  // "c" > "b" > "a" > "9" > "10" (strcmp: '9' > '1'), so the ranking is d c b a 9 10.
  const qrels = qrelsOf({ q: { a: 1, '10': 1 } });
  const docs: Array<[string, number]> = [['10', 1], ['a', 1], ['9', 1], ['d', 2], ['c', 1], ['b', 1]];
  const values = evaluate(runOf({ q: docs }), qrels, ALL_CUTOFFS).perQuery.get('q')!;
  // relevant at ranks 4 (a) and 6 (10): AP = (1/4 + 2/6) / 2 = 0.5833333, RR = 1/4
  t.ok(...near(values.map, (1 / 4 + 2 / 6) / 2, 'map'));
  t.ok(...near(values.recip_rank, 0.25, 'recip_rank'));
  // recall@3 = 0: neither relevant document is in the top 3
  t.ok(...near(values.recall_3, 0, 'recall_3'));

  // The input order never matters.
  const reversed = evaluate(runOf({ q: [...docs].reverse() }), qrels, ALL_CUTOFFS).perQuery.get('q')!;
  t.same(reversed, values, 'same values whatever the input order');
  t.end();
});

t.test('scores equal as C floats tie under float32 (trec_eval 9) but not under float64', (t) => {
  // 1.00000002 and 1.00000001 are different doubles but both round to the float 1.0.
  // float32: tie -> id descending: "b" (rank 1) then "a" (rank 2): RR = 1/2.
  // float64: score order: "a" (1.00000002) first: RR = 1.
  const qrels = qrelsOf({ q: { a: 1 } });
  const run = runOf({ q: [['a', 1.00000002], ['b', 1.00000001]] });
  t.ok(...near(evaluate(run, qrels).perQuery.get('q')!.recip_rank, 0.5, 'float32'));
  t.ok(...near(evaluate(run, qrels, { scoreType: 'float64' }).perQuery.get('q')!.recip_rank, 1, 'float64'));
  t.end();
});

t.test('a query with no results and judged-but-unretrieved relevant documents', (t) => {
  // q1 retrieves 1 of its 3 relevant documents, at rank 1 (plus one unjudged document).
  // q2 is in the run with an empty list.
  const qrels = qrelsOf({ q1: { r1: 1, r2: 1, r3: 1 }, q2: { x: 1 } });
  const run = runOf({ q1: [['r1', 5], ['n1', 4]], q2: [] });
  const { perQuery, all } = evaluate(run, qrels, ALL_CUTOFFS);
  const q1 = perQuery.get('q1')!;
  // AP = (1/1) / 3 = 0.3333333; recall@10 = 1/3; P@5 = 1/5; RR = 1
  t.ok(...near(q1.map, 1 / 3, 'q1 map'));
  t.ok(...near(q1.recall_10, 1 / 3, 'q1 recall_10'));
  t.ok(...near(q1.P_5, 0.2, 'q1 P_5'));
  t.ok(...near(q1.recip_rank, 1, 'q1 recip_rank'));
  // nDCG@10 = (1/log2(2)) / (1/log2(2) + 1/log2(3) + 1/log2(4)) = 1 / 2.1309298 = 0.4692787
  t.ok(...near(q1.ndcg_cut_10, 1 / (1 + 1 / Math.log2(3) + 0.5), 'q1 ndcg_cut_10'));
  t.ok(Math.abs(q1.ndcg_cut_10! - 0.4692787) < 1e-6, 'q1 ndcg_cut_10 matches the written arithmetic');

  const q2 = perQuery.get('q2')!;
  t.same(
    { num_ret: q2.num_ret, num_rel: q2.num_rel, num_rel_ret: q2.num_rel_ret, map: q2.map, ndcg_cut_10: q2.ndcg_cut_10 },
    { num_ret: 0, num_rel: 1, num_rel_ret: 0, map: 0, ndcg_cut_10: 0 },
    'an empty result list scores 0 but keeps num_rel',
  );
  // all: map = (1/3 + 0) / 2 = 0.1666667; counts are sums: num_ret 2, num_rel 4, num_rel_ret 1
  t.ok(...near(all.map, 1 / 6, 'all map'));
  t.equal(all.num_ret, 2);
  t.equal(all.num_rel, 4);
  t.equal(all.num_rel_ret, 1);
  t.end();
});

t.test('cut-offs beyond the ranking length', (t) => {
  // 2 documents retrieved, both relevant, 2 relevant in total.
  const qrels = qrelsOf({ q: { a: 1, b: 1 } });
  const values = evaluate(runOf({ q: [['a', 2], ['b', 1]] }), qrels, ALL_CUTOFFS).perQuery.get('q')!;
  // P@5 = 2/5 and P@10 = 2/10: precision always divides by the cut-off.
  t.ok(...near(values.P_5, 0.4, 'P_5'));
  t.ok(...near(values.P_10, 0.2, 'P_10'));
  // recall@1000 = 2/2; nDCG@1000 = 1 (perfect ranking); nDCG@1 = 1/1
  t.ok(...near(values.recall_1000, 1, 'recall_1000'));
  t.ok(...near(values.ndcg_cut_1000, 1, 'ndcg_cut_1000'));
  t.ok(...near(values.ndcg_cut_1, 1, 'ndcg_cut_1'));
  t.ok(...near(values.map, 1, 'map'));
  t.end();
});

t.test('documents judged 0 are not relevant; a query judged all 0 still counts', (t) => {
  // q1: z (judged 0) at rank 1, r (judged 1) at rank 2 -> RR = 1/2, AP = (1/2)/1 = 0.5
  // q0: every judgement is 0 -> every measure 0, but trec_eval keeps the query in the average.
  const qrels = qrelsOf({ q1: { z: 0, r: 1 }, q0: { y: 0, w: 0 } });
  const run = runOf({ q1: [['z', 2], ['r', 1]], q0: [['y', 3], ['w', 2]] });
  const { perQuery, all } = evaluate(run, qrels, ALL_CUTOFFS);
  t.ok(...near(perQuery.get('q1')!.recip_rank, 0.5, 'q1 recip_rank'));
  t.ok(...near(perQuery.get('q1')!.map, 0.5, 'q1 map'));
  // nDCG@10 for q1 = (1/log2(3)) / (1/log2(2)) = 0.6309298
  t.ok(...near(perQuery.get('q1')!.ndcg_cut_10, 1 / Math.log2(3), 'q1 ndcg_cut_10'));
  const q0 = perQuery.get('q0')!;
  for (const name of ['map', 'recip_rank', 'P_10', 'recall_100', 'ndcg_cut_10', 'num_rel', 'num_rel_ret']) {
    t.equal(q0[name], 0, `q0 ${name} is 0`);
  }
  t.equal(q0.num_ret, 2);
  // all RR = (0.5 + 0) / 2 = 0.25 under -c and without it (q0 is in the run).
  t.ok(...near(all.recip_rank, 0.25, 'all recip_rank'));
  t.ok(...near(evaluate(run, qrels, { complete: false }).all.recip_rank, 0.25, 'all recip_rank without -c'));
  t.end();
});

t.test('negative judgements are neither relevant nor gainful', (t) => {
  const qrels = qrelsOf({ q: { u: -1, r: 2 } });
  const values = evaluate(runOf({ q: [['u', 2], ['r', 1]] }), qrels, ALL_CUTOFFS).perQuery.get('q')!;
  // r at rank 2: RR = 1/2; nDCG@10 = (2/log2(3)) / (2/1) = 0.6309298; num_rel 1
  t.ok(...near(values.recip_rank, 0.5, 'recip_rank'));
  t.ok(...near(values.ndcg_cut_10, 1 / Math.log2(3), 'ndcg_cut_10'));
  t.equal(values.num_rel, 1);
  t.end();
});

t.test('run queries absent from the qrels are ignored', (t) => {
  const qrels = qrelsOf({ q1: { a: 1 } });
  const run = runOf({ q1: [['a', 1]], stray: [['a', 1], ['b', 0.5], ['b', 0.2]] });
  const { perQuery, all } = evaluate(run, qrels);
  t.same([...perQuery.keys()], ['q1'], 'only the judged query is reported');
  // all = q1 alone: RR 1, num_ret 1 (the stray query's 3 documents, even its duplicate, are not seen)
  t.ok(...near(all.recip_rank, 1, 'all recip_rank'));
  t.equal(all.num_ret, 1);
  t.end();
});

t.test('-c averages over every qrels query; without it only over queries in the run', (t) => {
  const qrels = qrelsOf({ q1: { a: 1 }, q2: { b: 1 } });
  const run = runOf({ q1: [['a', 1]] });
  const complete = evaluate(run, qrels);
  // -c: RR = (1 + 0) / 2 = 0.5; q2 appears with zeros and its num_rel
  t.ok(...near(complete.all.recip_rank, 0.5, 'complete recip_rank'));
  t.same([...complete.perQuery.keys()], ['q1', 'q2']);
  t.equal(complete.perQuery.get('q2')!.num_rel, 1);
  t.equal(complete.all.num_rel, 2);
  // no -c: RR = 1 / 1
  const partial = evaluate(run, qrels, { complete: false });
  t.ok(...near(partial.all.recip_rank, 1, 'partial recip_rank'));
  t.same([...partial.perQuery.keys()], ['q1']);
  t.equal(partial.all.num_rel, 1);
  t.end();
});

t.test('empty run', (t) => {
  const qrels = qrelsOf({ q1: { a: 1, b: 1 }, q2: { c: 2 } });
  const complete = evaluate(new Map(), qrels);
  // -c: both queries present with zeros; num_rel = 2 + 1 = 3
  t.equal(complete.perQuery.size, 2);
  t.equal(complete.all.num_rel, 3);
  t.equal(complete.all.num_ret, 0);
  for (const name of ['map', 'recip_rank', 'P_10', 'recall_100', 'recall_1000', 'ndcg_cut_10']) {
    t.equal(complete.all[name], 0, `all ${name} is 0`);
  }
  // no -c: nothing evaluated (trec_eval would refuse); every summary value is 0.
  const partial = evaluate(new Map(), qrels, { complete: false });
  t.equal(partial.perQuery.size, 0);
  t.same(Object.values(partial.all), new Array(measureNames().length).fill(0));
  // empty qrels as well
  t.equal(evaluate(new Map(), new Map()).perQuery.size, 0);
  t.end();
});

t.test('summary: counts are summed, the rest averaged, in trec_eval measure order', (t) => {
  t.same(measureNames(), [
    'num_ret', 'num_rel', 'num_rel_ret', 'map', 'recip_rank', 'P_10', 'recall_100', 'recall_1000', 'ndcg_cut_10',
  ]);
  t.same(measureNames({ precisionCutoffs: [10, 5], recallCutoffs: [1000, 10], ndcgCutoffs: [10, 3] }), [
    'num_ret', 'num_rel', 'num_rel_ret', 'map', 'recip_rank', 'P_5', 'P_10', 'recall_10', 'recall_1000',
    'ndcg_cut_3', 'ndcg_cut_10',
  ], 'cut-offs are used in increasing order');
  // q1: a relevant at rank 1 -> P@10 = 0.1; q2: b relevant at rank 2 -> P@10 = 0.1, RR = 0.5
  const qrels = qrelsOf({ q1: { a: 1 }, q2: { b: 1 } });
  const run = runOf({ q1: [['a', 3], ['x', 2]], q2: [['y', 3], ['b', 2], ['z', 1]] });
  const { all } = evaluate(run, qrels);
  t.same(Object.keys(all), measureNames());
  t.equal(all.num_ret, 5, 'num_ret = 2 + 3');
  t.equal(all.num_rel_ret, 2, 'num_rel_ret = 1 + 1');
  t.ok(...near(all.recip_rank, 0.75, 'recip_rank = (1 + 0.5) / 2'));
  t.ok(...near(all.P_10, 0.1, 'P_10 = (0.1 + 0.1) / 2'));
  t.end();
});

t.test('bad input gets coded errors', (t) => {
  const qrels = qrelsOf({ q: { a: 1 } });
  t.throws(() => evaluate(runOf({ q: [['a', 1], ['a', 0.5]] }), qrels), { code: 'DUPLICATE_DOCUMENT' });
  t.throws(() => evaluate(runOf({ q: [['a', Number.NaN]] }), qrels), { code: 'BAD_SCORE' });
  t.throws(() => evaluate(new Map(), qrels, { precisionCutoffs: [0] }), { code: 'BAD_CUTOFF' });
  t.throws(() => evaluate(new Map(), qrels, { recallCutoffs: [10, 10] }), { code: 'BAD_CUTOFF' });
  t.throws(() => evaluate(new Map(), qrels, { ndcgCutoffs: [2.5] }), { code: 'BAD_CUTOFF' });
  t.throws(() => evaluate(new Map(), qrels, { relevanceLevel: -1 }), { code: 'BAD_OPTION' });
  t.end();
});

t.test('compareTrecIds orders like strcmp on UTF-8 bytes', (t) => {
  const ids = ['10', '9', 'a', 'B', 'ab', 'abc', '', 'é', '\uFFFD', '\u{1F600}', '\u{10000}', 'z\u{1F600}', 'z\uE000'];
  for (const a of ids) {
    for (const b of ids) {
      const expected = Math.sign(Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
      t.equal(Math.sign(compareTrecIds(a, b)), expected, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
  t.end();
});
