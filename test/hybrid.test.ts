import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runHybridEvaluation } from '../src/eval/hybrid.js';
import { evaluate, type Qrels, type Run } from '../src/eval/metrics.js';
import { readQrels, readRun } from '../src/eval/trec-files.js';
import { runConvexTuning, sampleQueries, tuneConvexWeight } from '../src/eval/tune.js';
import { EVAL_MEASURES } from '../src/eval/beir-eval.js';
import { tempDir } from './support/tmp.js';
import { writeMiniBeir as writeFolder } from './support/mini-beir.js';

/** Plain RRF (k = 60) of two runs, written out longhand. */
function referenceRrf(a: Run, b: Run): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const queryId of new Set([...a.keys(), ...b.keys()])) {
    const scores = new Map<string, number>();
    for (const run of [a, b]) {
      const ranked = [...(run.get(queryId) ?? [])].sort((x, y) => y.score - x.score || (x.docId < y.docId ? 1 : -1));
      ranked.forEach((d, i) => scores.set(d.docId, (scores.get(d.docId) ?? 0) + 1 / (60 + i + 1)));
    }
    out.set(queryId, scores);
  }
  return out;
}

t.test('hybrid evaluation: sparse, dense and fused runs side by side', async (t) => {
  const dir = tempDir(t);
  const { folder, vectors } = writeFolder(dir);
  const out = path.join(dir, 'out');
  const result = await runHybridEvaluation({ dir: folder, out, k: 10, dense: { type: 'static', embeddings: vectors }, tune: { split: 'train' } });
  t.same(
    result.runs.map((r) => r.name),
    ['sparse', 'dense', 'rrf', 'convex-minmax-0.5', 'convex-zscore-0.5', 'convex-tmm-0.5', 'convex-l2-0.5', 'convex-minmax-tuned'],
  );
  const qrels = await readQrels(path.join(folder, 'qrels', 'test.tsv'));
  const metrics = JSON.parse(fs.readFileSync(result.files.metrics, 'utf8'));
  for (const report of result.runs) {
    const run = await readRun(report.file);
    t.same(evaluate(run, qrels, EVAL_MEASURES).all, report.metrics, `${report.name}: metrics are those of its run file`);
    t.same(metrics.runs[report.name].metrics, report.metrics, `${report.name}: metrics.json holds them`);
  }
  const sparse = await readRun(path.join(out, 'runs', 'sparse.trec'));
  const dense = await readRun(path.join(out, 'runs', 'dense.trec'));
  t.notOk((sparse.get('q1') ?? []).length > 0, 'BM25 cannot match "kitty": no document has the word');
  t.same(dense.get('q1')!.slice(0, 2).map((d) => d.docId).sort(), ['d1', 'd3'], 'the word vectors find the cat documents');
  const fused = await readRun(path.join(out, 'runs', 'rrf.trec'));
  const expected = referenceRrf(sparse, dense);
  for (const [queryId, documents] of fused) {
    for (const d of documents) {
      const want = expected.get(queryId)!.get(d.docId)!;
      if (Math.abs(d.score - want) > 1e-6) t.fail(`rrf ${queryId} ${d.docId}: ${d.score} vs ${want}`);
    }
  }
  t.ok(result.runs.find((r) => r.name === 'rrf')!.metrics['ndcg_cut_10']! > result.runs[0]!.metrics['ndcg_cut_10']!, 'fusion beats BM25 alone here');
  t.equal(result.tuning?.split, 'train');
  t.equal(result.tuning?.queries, 2);
  const report = fs.readFileSync(result.files.report, 'utf8');
  t.match(report, /\| sparse \| bm25-flat \|/);
  t.match(report, /Convex weight tuned on the train split/);
  await t.rejects(runHybridEvaluation({ dir: folder, out, dense: { type: 'static', embeddings: vectors }, tune: { split: 'test' } }), { code: 'INVALID_ARGUMENT' });
});

t.test('tuneConvexWeight: the grid maximum, ties to the weight nearest 0.5', async (t) => {
  const qrels: Qrels = new Map([
    ['q1', new Map([['good', 1]])],
    ['q2', new Map([['good2', 1]])],
  ]);
  // Sparse ranks the relevant document first on q1 only, dense on q2 only; each puts it second elsewhere.
  const sparse: Run = new Map([
    ['q1', [{ docId: 'good', score: 10 }, { docId: 'bad', score: 9 }]],
    ['q2', [{ docId: 'bad2', score: 10 }, { docId: 'good2', score: 1 }]],
  ]);
  const dense: Run = new Map([
    ['q1', [{ docId: 'bad', score: 0.9 }, { docId: 'good', score: 0.8 }]],
    ['q2', [{ docId: 'good2', score: 0.9 }, { docId: 'bad2', score: 0.1 }]],
  ]);
  // min-max: q1 good = w*1 + (1-w)*0, bad = w*0 + (1-w)*1 -> good first iff w > 0.5;
  // q2 good2 = w*0 + (1-w)*1, bad2 = w*1 + (1-w)*0 -> good2 first iff w < 0.5. At w = 0.5 ties
  // break by id descending: q1 "good" > "bad", q2 "good2" > "bad2", so both come first.
  const result = tuneConvexWeight(sparse, dense, qrels, { grid: [0, 0.25, 0.5, 0.75, 1], measure: 'recip_rank' });
  t.same(result.grid.map((g) => g.value), [0.75, 0.75, 1, 0.75, 0.75]);
  t.same(result.best, { sparseWeight: 0.5, denseWeight: 0.5, value: 1 });
  t.equal(result.sparseAlone, 0.75);
  t.equal(result.denseAlone, 0.75);
  const tie = tuneConvexWeight(sparse, dense, qrels, { grid: [0, 0.25, 0.75, 1], measure: 'recip_rank' });
  t.equal(tie.best.sparseWeight, 0.25, 'equal values: the weight nearest 0.5 (the first of equals)');
  t.throws(() => tuneConvexWeight(sparse, dense, qrels, { measure: 'bpref' }), { code: 'INVALID_ARGUMENT' });
  t.throws(() => tuneConvexWeight(sparse, dense, qrels, { grid: [1.5] }), { code: 'INVALID_ARGUMENT' });
});

t.test('sampleQueries is seeded and sorted', async (t) => {
  const ids = Array.from({ length: 50 }, (_, i) => String(i));
  const a = sampleQueries(ids, 10, 3);
  t.equal(a.length, 10);
  t.same(sampleQueries(ids, 10, 3), a, 'same seed, same sample');
  t.notSame(sampleQueries(ids, 10, 4), a, 'another seed, another sample');
  t.same(sampleQueries(ids, undefined).length, 50);
  t.equal(new Set(a).size, 10);
});

t.test('runConvexTuning (sparrow eval tune) reports the weight and writes tune.json', async (t) => {
  const dir = tempDir(t);
  const { folder, vectors } = writeFolder(dir);
  const out = path.join(dir, 'tune');
  const result = await runConvexTuning({ dir: folder, out, dense: { type: 'static', embeddings: vectors }, split: 'train', grid: [0, 0.5, 1] });
  t.equal(result.split, 'train');
  t.equal(result.queries, 2);
  t.same(result.grid.map((g) => g.sparseWeight), [0, 0.5, 1]);
  t.ok(result.grid.some((g) => g.value === result.best.value), 'the best is one of the tried weights');
  t.ok(result.grid.every((g) => g.value <= result.best.value));
  const written = JSON.parse(fs.readFileSync(path.join(out, 'tune.json'), 'utf8'));
  t.same(written.best, result.best);
  t.equal(written.dense.encoder.type, 'static');
  await t.rejects(runConvexTuning({ dir: folder, dense: { type: 'static', embeddings: vectors }, split: 'dev' }), { code: 'SPLIT_NOT_FOUND' });
});
