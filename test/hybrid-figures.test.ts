import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runHybridEvaluation } from '../src/eval/hybrid.js';
import { repoRoot, sharedDir } from './support/paths.js';
import { tempDir } from './support/tmp.js';

// SciFact's hybrid figures (BM25 + GloVe, RRF and convex fusion, a weight tuned on train), pinned
// in test/fixtures/expected-figures.json like the BM25 ones: a change that moves one is deliberate.

interface PinnedHybrid {
  tolerance: number;
  hybrid: Record<string, { tunedSparseWeight: number; runs: Record<string, Record<string, number>> }>;
}
const pinned = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/expected-figures.json'), 'utf8')) as PinnedHybrid;

for (const [name, expected] of Object.entries(pinned.hybrid)) {
  const dir = path.join(sharedDir, 'data', name);
  t.test(`${name} hybrid runs keep their pinned figures`, { skip: fs.existsSync(dir) ? false : `${dir} absent` }, async (t) => {
    const result = await runHybridEvaluation({ dir, out: tempDir(t) });
    t.equal(result.tuning?.best.sparseWeight, expected.tunedSparseWeight, 'the weight tuned on train');
    for (const [run, metrics] of Object.entries(expected.runs)) {
      const report = result.runs.find((r) => r.name === run);
      if (!report) {
        t.fail(`no run ${run}`);
        continue;
      }
      for (const [measure, value] of Object.entries(metrics)) {
        const actual = report.metrics[measure]!;
        t.ok(Math.abs(actual - value) <= pinned.tolerance + 5e-5, `${run} ${measure} ${actual.toFixed(4)} (pinned ${value})`);
      }
    }
    const sparse = result.runs.find((r) => r.name === 'sparse')!.metrics;
    const tuned = result.runs.find((r) => r.name === 'convex-minmax-tuned')!.metrics;
    t.ok(tuned['recall_1000']! > sparse['recall_1000']!, 'fusion adds recall the sparse run lacks');
  });
}
