import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runBeirEvaluation } from '../src/eval/beir-eval.js';
import { readRun, parseTrecEvalOutput, formatFourDecimals } from '../src/eval/trec-files.js';
import { sharedDir, scifactDir, hasScifact } from './support/paths.js';
import { tempDir } from './support/tmp.js';

const referenceDir = path.join(sharedDir, 'reference', 'scifact-lucene-bm25');

t.test('SciFact BM25 flat reproduces Lucene score by score and trec_eval query by query', { skip: hasScifact ? false : 'shared SciFact data absent' }, async (t) => {
  const out = tempDir(t);
  const result = await runBeirEvaluation({ dir: scifactDir, out, fields: 'flat', k: 1000 });

  // The published figure (Anserini BM25 flat): 0.6789 / 0.9253.
  t.ok(Math.abs(result.metrics['ndcg_cut_10']! - 0.6789) <= 0.003, `ndcg_cut_10 ${result.metrics['ndcg_cut_10']}`);
  t.ok(Math.abs(result.metrics['recall_100']! - 0.9253) <= 0.005, `recall_100 ${result.metrics['recall_100']}`);
  t.equal(result.queries, 300);

  // Pair by pair against Lucene's own run: same documents, same scores to the printed precision.
  // Lucene breaks ties by internal document order, trec_eval (and sparrow) by id descending, so when
  // equal scores straddle the 1000th place the two lists may hold different members of that tie.
  // Any pair missing on one side must therefore carry the query's lowest score, on both sides.
  const lucene = await readRun(path.join(referenceDir, 'run.trec.gz'));
  const ours = await readRun(result.files.run);
  let pairs = 0;
  let boundarySwaps = 0;
  let worst = 0;
  const problems: string[] = [];
  for (const [queryId, docs] of lucene) {
    const mineList = ours.get(queryId) ?? [];
    const mine = new Map(mineList.map((d) => [d.docId, d.score]));
    const luceneLowest = Math.min(...docs.map((d) => d.score));
    const ourLowest = Math.min(...mineList.map((d) => d.score));
    if (mineList.length !== docs.length) problems.push(`${queryId}: ${mineList.length} results, Lucene ${docs.length}`);
    for (const { docId, score } of docs) {
      const s = mine.get(docId);
      if (s === undefined) {
        boundarySwaps++;
        if (Math.abs(score - luceneLowest) > 1e-6 || Math.abs(ourLowest - luceneLowest) > 1e-6) {
          problems.push(`${queryId}: Lucene's ${docId} (${score}) missing above the cut (lowest ${luceneLowest})`);
        }
        continue;
      }
      pairs++;
      const diff = Math.abs(s - score);
      if (diff > worst) worst = diff;
      if (diff > 1e-6) problems.push(`${queryId} ${docId}: ${s} vs Lucene ${score}`);
    }
  }
  t.ok(pairs > 290_000, `${pairs} (query, document) pairs compared`);
  t.ok(worst <= 1e-6, `largest score difference ${worst} (the run file rounds to 6 decimals)`);
  t.same(problems.slice(0, 20), [], `no difference except ${boundarySwaps} tie swaps at the 1000th place`);

  // Every per-query measure against trec_eval's own output.
  const reference = parseTrecEvalOutput(fs.readFileSync(path.join(referenceDir, 'trec_eval-per-query.txt'), 'utf8'));
  const mismatches: string[] = [];
  for (const [queryId, measures] of reference.perQuery) {
    const mine = result.evaluation.perQuery.get(queryId);
    for (const [name, value] of Object.entries(measures)) {
      const v = mine?.[name];
      // trec_eval prints 4 decimals (printf rounding): compare the printed forms.
      if (v === undefined || formatFourDecimals(v) !== formatFourDecimals(value)) mismatches.push(`${queryId} ${name} ${v} vs ${value}`);
    }
  }
  t.same(mismatches.slice(0, 20), [], 'per-query measures equal trec_eval');
  for (const name of ['ndcg_cut_10', 'recall_100', 'recall_1000', 'map', 'recip_rank', 'P_10']) {
    t.ok(Math.abs(result.metrics[name]! - reference.all[name]!) <= 5e-5, `${name}: ${result.metrics[name]} vs trec_eval ${reference.all[name]}`);
  }

  // The run's files are there and readable.
  const metrics = JSON.parse(fs.readFileSync(result.files.metrics, 'utf8'));
  t.equal(metrics.metrics.ndcg_cut_10, result.metrics['ndcg_cut_10']);
  t.match(fs.readFileSync(result.files.report, 'utf8'), /published/);
});
