import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { runBeirEvaluation } from '../src/eval/beir-eval.js';
import { repoRoot, sharedDir } from './support/paths.js';
import { tempDir } from './support/tmp.js';

interface Pinned {
  tolerance: number;
  runs: Record<string, { dataset?: string; fields: 'flat' | 'multifield'; metrics: Record<string, number>; published?: Record<string, number> }>;
}
const pinned = JSON.parse(fs.readFileSync(path.join(repoRoot, 'test/fixtures/expected-figures.json'), 'utf8')) as Pinned;

for (const [name, run] of Object.entries(pinned.runs)) {
  const dir = path.join(sharedDir, 'data', run.dataset ?? name);
  t.test(`${name} (${run.fields}) keeps its pinned figures`, { skip: fs.existsSync(dir) ? false : `${dir} absent` }, async (t) => {
    const result = await runBeirEvaluation({ dir, out: tempDir(t), fields: run.fields });
    for (const [measure, expected] of Object.entries(run.metrics)) {
      const actual = result.metrics[measure]!;
      t.ok(Math.abs(actual - expected) <= pinned.tolerance + 5e-5, `${measure} ${actual.toFixed(4)} (pinned ${expected})`);
    }
    for (const [measure, published] of Object.entries(run.published ?? {})) {
      t.ok(Math.abs(result.metrics[measure]! - published) <= 0.003, `${measure} within 0.003 of the published ${published}`);
    }
  });
}
