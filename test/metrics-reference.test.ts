/**
 * Every per-query and summary value against trec_eval's own output for Lucene's BM25 run on
 * BEIR SciFact (see shared/reference/scifact-lucene-bm25/README.md). The run has many tied
 * scores, so this also checks trec_eval's tie order (score desc, then document id desc).
 */
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { evaluate, type EvaluationOptions } from '../src/eval/metrics.js';
import { formatTrecEvalOutput, parseTrecEvalOutput, readQrels, readRun } from '../src/eval/trec-files.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = path.resolve(repoRoot, '..', 'shared');
const referenceDir = path.join(shared, 'reference', 'scifact-lucene-bm25');
const runFile = path.join(referenceDir, 'run.trec.gz');
const trecEvalFile = path.join(referenceDir, 'trec_eval-per-query.txt');
const qrelsFile = path.join(shared, 'data', 'beir', 'scifact', 'qrels', 'test.tsv');

// trec_eval prints 4 decimals; allow the rounding plus a hair for exact half-way cases.
const TOLERANCE = 5e-5 + 1e-12;
// The measures the reference was made with (`-m ndcg_cut.10 -m recall.100,1000 -m map ...`).
const OPTIONS: EvaluationOptions = { ndcgCutoffs: [10], recallCutoffs: [100, 1000], precisionCutoffs: [10], complete: true };
const PRINTED_MEASURES = ['num_ret', 'num_rel_ret', 'map', 'recip_rank', 'P_10', 'recall_100', 'recall_1000', 'ndcg_cut_10'];

const missing = [runFile, trecEvalFile, qrelsFile].filter((file) => !existsSync(file));
if (missing.length > 0) {
  t.test('SciFact BM25 run against trec_eval', { skip: `shared reference data absent (${missing.join(', ')})` }, () => {});
} else {
  const referenceText = readFileSync(trecEvalFile, 'utf8');
  const reference = parseTrecEvalOutput(referenceText, trecEvalFile);
  const [run, qrels] = await Promise.all([readRun(runFile), readQrels(qrelsFile)]);

  t.test('inputs are what the README describes', (t) => {
    t.equal(qrels.size, 300, '300 judged test queries');
    t.equal([...run.values()].reduce((sum, docs) => sum + docs.length, 0), 294041, 'run lines');
    t.equal(reference.perQuery.size, 300, 'reference has 300 queries');
    t.end();
  });

  for (const scoreType of ['float32', 'float64'] as const) {
    t.test(`every value matches trec_eval (scores compared as ${scoreType})`, (t) => {
      const result = evaluate(run, qrels, { ...OPTIONS, scoreType });
      t.same([...result.perQuery.keys()].sort(), [...reference.perQuery.keys()].sort(), 'same queries');
      let compared = 0;
      const mismatches: string[] = [];
      for (const [queryId, expected] of reference.perQuery) {
        const actual = result.perQuery.get(queryId);
        for (const [measure, wanted] of Object.entries(expected)) {
          const found = actual?.[measure];
          compared++;
          if (found === undefined || Math.abs(found - wanted) > TOLERANCE) {
            mismatches.push(`${queryId} ${measure}: got ${found}, trec_eval ${wanted}`);
          }
        }
      }
      t.equal(compared, 300 * PRINTED_MEASURES.length, 'compared every per-query value');
      t.same(mismatches, [], 'no per-query value differs');
      t.same(Object.keys(reference.all).sort(), [...PRINTED_MEASURES].sort(), 'reference summary measures');
      for (const [measure, wanted] of Object.entries(reference.all)) {
        const found = result.all[measure]!;
        t.ok(Math.abs(found - wanted) <= TOLERANCE, `all ${measure}: got ${found}, trec_eval ${wanted}`);
      }
      t.equal(result.all.num_rel, 339, 'num_rel: every judged-relevant pair of the test qrels');
      t.equal(
        formatTrecEvalOutput(result, { measures: PRINTED_MEASURES }),
        referenceText,
        'printed output is byte-identical to trec_eval -q',
      );
      t.end();
    });
  }
}
