import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { EVAL_MEASURES } from '../src/eval/beir-eval.js';
import { evaluate } from '../src/eval/metrics.js';
import { readQrels, readRun } from '../src/eval/trec-files.js';
import { runConvexTuning } from '../src/eval/tune.js';
import { writeMiniBeir } from './support/mini-beir.js';
import { bertTokenizerDir, tinyModelFolder } from './support/tiny-model.js';
import { cliPath } from './support/paths.js';
import { tempDir } from './support/tmp.js';

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a child process (the word-vector cache kept in the test's folder). */
function sparrow(cacheDir: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [cliPath, ...args], { encoding: 'utf8', env: { ...process.env, SPARROW_CACHE_DIR: cacheDir } }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const FUSED = ['rrf', 'convex-minmax-0.5', 'convex-zscore-0.5', 'convex-tmm-0.5', 'convex-l2-0.5'];

t.test('eval beir --hybrid: sparse, dense and fused runs whose metrics are those of the run files', async (t) => {
  const dir = tempDir(t);
  const { folder, vectors } = writeMiniBeir(dir);
  const out = path.join(dir, 'out');
  const r = await sparrow(dir, ['eval', 'beir', folder, '--hybrid', '--out', out, '--dense', 'static', '--dense-embeddings', vectors, '--k', '10']);
  t.equal(r.code, 0, r.stderr);
  const reportFile = path.join(out, 'report.md');
  const metricsFile = path.join(out, 'metrics.json');
  t.ok(fs.existsSync(reportFile), 'report.md written');
  t.ok(fs.existsSync(metricsFile), 'metrics.json written');
  const html = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
  t.match(html, /^<!doctype html>/, 'report.html written');
  const comparisons = html.match(/<svg /g)?.length ?? 0;
  t.equal(comparisons, 7, 'one chart per run against the sparse one');
  t.equal(html.match(/<circle class="query"/g)?.length, 7 * 3, 'one point per query in each chart');
  t.match(html, /is better on \d+ queries, worse on \d+, equal on \d+/);
  t.notMatch(html, /https?:\/\/|<script/, 'readable offline: nothing fetched, no script');
  t.match(r.stdout, /^mini hybrid \(test, 3 queries\)\n/);
  t.match(r.stdout, `wrote ${reportFile} and ${metricsFile}`);

  const metrics = JSON.parse(fs.readFileSync(metricsFile, 'utf8'));
  const names = Object.keys(metrics.runs);
  t.same(names, ['sparse', 'dense', ...FUSED, 'convex-minmax-tuned'], 'sparse, dense, the fixed fusions and the tuned one');
  t.same(
    names.map((n) => metrics.runs[n].kind),
    ['sparse', 'dense', ...FUSED.map(() => 'fused'), 'fused'],
  );
  t.equal(metrics.k, 10);
  t.equal(metrics.remove_query, true);
  t.equal(metrics.runs.dense.setting.encoder.embeddings, vectors, 'the dense run used the word-vector file given');

  const qrels = await readQrels(path.join(folder, 'qrels', 'test.tsv'));
  for (const name of names) {
    const run = await readRun(path.join(out, metrics.runs[name].run));
    t.ok(run.size > 0, `${name}: run file holds queries`);
    const computed = evaluate(run, qrels, EVAL_MEASURES).all;
    t.same(metrics.runs[name].metrics, computed, `${name}: metrics.json equals evaluating its run file`);
    const row = `  ${name.padEnd(19)}  ${[computed['ndcg_cut_10']!, computed['recall_100']!, computed['recall_1000']!].map((x) => x.toFixed(4).padStart(7)).join('  ')}\n`;
    t.ok(r.stdout.includes(row), `${name}: printed row ${JSON.stringify(row)}`);
  }
  t.ok(metrics.runs.rrf.metrics.ndcg_cut_10 > metrics.runs.sparse.metrics.ndcg_cut_10, 'fusion beats BM25 alone on this folder');

  // The tuned weight is what runConvexTuning picks on the same split and window.
  const direct = await runConvexTuning({ dir: folder, dense: { type: 'static', embeddings: vectors }, split: 'train', depth: 10 });
  const tuning = metrics.tuning;
  t.equal(tuning.split, 'train');
  t.equal(tuning.queries, 2);
  t.ok(tuning.best.sparseWeight >= 0 && tuning.best.sparseWeight <= 1, `tuned weight ${tuning.best.sparseWeight} lies in [0, 1]`);
  t.same(tuning.best, direct.best, 'the tuned weight equals runConvexTuning');
  t.same(tuning.grid, direct.grid);
  t.same(metrics.runs['convex-minmax-tuned'].setting.weights, [direct.best.sparseWeight, direct.best.denseWeight]);
  t.match(r.stdout, `tuned on train (2 queries): sparse ${direct.best.sparseWeight} / dense ${direct.best.denseWeight}, ndcg_cut_10 ${direct.best.value.toFixed(4)} on train`);

  const report = fs.readFileSync(reportFile, 'utf8');
  for (const name of names) t.match(report, `| ${name} |`, `report.md has a row for ${name}`);
  t.match(report, /Convex weight tuned on the train split/);
});

t.test('eval beir --hybrid --json, --no-tune, hnsw and --keep-query-doc', async (t) => {
  const dir = tempDir(t);
  const { folder, vectors } = writeMiniBeir(dir);
  const out = path.join(dir, 'out');
  const r = await sparrow(dir, [
    'eval', 'beir', folder, '--hybrid', '--out', out, '--dense-embeddings', vectors, '--k', '5', '--no-tune', '--dense-index', 'hnsw', '--keep-query-doc', '--json',
  ]);
  t.equal(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  t.same(result.runs.map((x: { name: string }) => x.name), ['sparse', 'dense', ...FUSED], '--no-tune: no tuned run');
  t.equal(result.tuning, undefined);
  t.equal(result.files.metrics, path.join(out, 'metrics.json'));
  t.equal(result.files.report, path.join(out, 'report.md'));
  const metrics = JSON.parse(fs.readFileSync(result.files.metrics, 'utf8'));
  t.equal(metrics.remove_query, false, '--keep-query-doc');
  t.equal(metrics.k, 5);
  t.notOk('tuning' in metrics);
  const qrels = await readQrels(path.join(folder, 'qrels', 'test.tsv'));
  for (const run of result.runs as { name: string; file: string; metrics: Record<string, number> }[]) {
    const read = await readRun(run.file);
    t.same(run.metrics, evaluate(read, qrels, EVAL_MEASURES).all, `${run.name}: --json metrics equal its run file's`);
    for (const hits of read.values()) t.ok(hits.length <= 5, `${run.name}: at most k hits`);
  }
});

t.test('eval beir --hybrid --dense DIR: a transformers.js model folder, cls pooling, int8 storage', { skip: !fs.existsSync(bertTokenizerDir) && 'no bert-base-uncased tokenizer in ../shared' }, async (t) => {
  const dir = tempDir(t);
  const { folder } = writeMiniBeir(dir);
  const model = tinyModelFolder(t);
  const out = path.join(dir, 'out');
  const r = await sparrow(dir, ['eval', 'beir', folder, '--hybrid', '--out', out, '--dense', model, '--pooling', 'cls', '--dense-storage', 'int8', '--no-tune', '--k', '10']);
  t.equal(r.code, 0, r.stderr);
  const metrics = JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8'));
  t.match(metrics.runs.dense.setting.encoder, { type: 'transformers', model, pooling: 'cls' });
  t.match(metrics.runs.dense.setting, { metric: 'cosine', storage: 'int8', index: 'exact' }, 'the dense index settings are recorded');
  const qrels = await readQrels(path.join(folder, 'qrels', 'test.tsv'));
  for (const name of ['dense', 'rrf']) {
    t.same(metrics.runs[name].metrics, evaluate(await readRun(path.join(out, 'runs', `${name}.trec`)), qrels, EVAL_MEASURES).all, `${name}: metrics equal its run file's`);
  }
});

t.test('eval tune: the weight runConvexTuning picks, the grid, tune.json', async (t) => {
  const dir = tempDir(t);
  const { folder, vectors } = writeMiniBeir(dir);
  const out = path.join(dir, 'tune');
  const [json, text] = await Promise.all([
    sparrow(dir, ['eval', 'tune', folder, '--dense-embeddings', vectors, '--json']),
    sparrow(dir, ['eval', 'tune', folder, '--split', 'train', '--dense-embeddings', vectors, '--measure', 'recip_rank', '--queries', '1', '--seed', '7', '--out', out]),
  ]);
  t.equal(json.code, 0, json.stderr);
  const result = JSON.parse(json.stdout);
  const direct = await runConvexTuning({ dir: folder, dense: { type: 'static', embeddings: vectors } });
  t.equal(result.split, 'train');
  t.equal(result.queries, 2);
  t.ok(result.best.sparseWeight >= 0 && result.best.sparseWeight <= 1, 'the weight lies in [0, 1]');
  t.same(result.best, direct.best, 'the chosen weight equals runConvexTuning');
  t.same(result.grid, direct.grid);
  t.equal(result.grid.length, 21);
  t.equal(result.file, undefined, 'no --out, no tune.json');

  t.equal(text.code, 0, text.stderr);
  const sampled = await runConvexTuning({ dir: folder, dense: { type: 'static', embeddings: vectors }, measure: 'recip_rank', queries: 1, seed: 7 });
  t.equal(sampled.queries, 1);
  t.match(text.stdout, `mini: convex weight tuned on the train split (1 judged queries, min-max normalization)`);
  t.match(text.stdout, `chosen       sparse ${sampled.best.sparseWeight} / dense ${sampled.best.denseWeight}: recip_rank ${sampled.best.value.toFixed(4)}`);
  const gridLines = text.stdout.split('\n').filter((line) => /^\s+\d\.\d\d  \d\.\d{4}/.test(line));
  t.equal(gridLines.length, 21, 'the whole grid is printed');
  t.same(
    gridLines.map((line) => Number(line.trim().split(/\s+/)[1])),
    sampled.grid.map((g) => Number(g.value.toFixed(4))),
  );
  t.equal(gridLines.filter((line) => line.endsWith('<- chosen')).length, 1);
  const written = JSON.parse(fs.readFileSync(path.join(out, 'tune.json'), 'utf8'));
  t.same(written.best, sampled.best);
  t.match(text.stdout, `wrote ${path.join(out, 'tune.json')}`);
});

t.test('bad flags are usage errors (exit 2); library failures print their code (exit 1)', async (t) => {
  const dir = tempDir(t);
  const { folder, vectors } = writeMiniBeir(dir);
  fs.writeFileSync(path.join(folder, 'qrels', 'dev.tsv'), 'query-id\tcorpus-id\tscore\nq99\td1\t1\n');
  const out = path.join(dir, 'out');
  const hybrid = ['eval', 'beir', folder, '--hybrid', '--out', out, '--dense-embeddings', vectors];
  const tune = ['eval', 'tune', folder, '--dense-embeddings', vectors];
  const cases: [string, string[], number, RegExp][] = [
    ['bad --dense-index', [...hybrid, '--dense-index', 'bogus'], 2, /--dense-index must be exact or hnsw, got "bogus"/],
    ['--tune-queries 0', [...hybrid, '--tune-queries', '0'], 2, /--tune-queries must be a positive integer, got "0"/],
    ['storage with hnsw', [...hybrid, '--dense-index', 'hnsw', '--dense-storage', 'int8'], 2, /--dense-storage applies to --dense-index exact/],
    ['embeddings with a model', ['eval', 'beir', folder, '--hybrid', '--out', out, '--dense', dir, '--dense-embeddings', vectors], 2, /--dense-embeddings applies to --dense static/],
    ['--no-tune with --tune-split', [...hybrid, '--no-tune', '--tune-split', 'train'], 2, /--no-tune cannot be combined/],
    ['tune split = split', [...hybrid, '--tune-split', 'test'], 2, /--tune-split must differ from the evaluated --split \(test\)/],
    ['bad --tune-measure', [...hybrid, '--tune-measure', 'bpref'], 2, /--tune-measure must be ndcg_cut_N/],
    ['tune --queries 0', [...tune, '--queries', '0'], 2, /--queries must be a positive integer/],
    ['dense flag without --hybrid', ['eval', 'beir', folder, '--out', out, '--dense', 'static'], 2, /Unknown option '--dense'/],
    ['missing embeddings', ['eval', 'beir', folder, '--hybrid', '--out', out, '--dense-embeddings', path.join(dir, 'missing.json')], 1, /\[EMBEDDINGS_NOT_FOUND\] cannot read word vectors/],
    ['missing model folder', ['eval', 'beir', folder, '--hybrid', '--out', out, '--dense', path.join(dir, 'no-model')], 1, /\[MODEL_NOT_FOUND\]/],
    ['not a BEIR folder', ['eval', 'beir', dir, '--hybrid', '--out', out, '--dense-embeddings', vectors], 1, /\[NOT_A_BEIR_FOLDER\]/],
    ['missing tuning split', [...hybrid, '--tune-split', 'nope'], 1, /\[SPLIT_NOT_FOUND\] no qrels for split "nope"/],
    ['tune: no judged query with text', [...tune, '--split', 'dev'], 1, /\[NO_JUDGED_QUERIES\] split dev has no judged query with text/],
  ];
  // A few at a time: each is a short child process.
  const results: CliResult[] = [];
  for (let start = 0; start < cases.length; start += 8) {
    results.push(...(await Promise.all(cases.slice(start, start + 8).map(([, args]) => sparrow(dir, args)))));
  }
  cases.forEach(([name, , code, pattern], i) => {
    const r = results[i]!;
    t.equal(r.code, code, `${name}: exit code`);
    t.match(r.stderr, pattern, `${name}: message`);
    if (code === 1) t.match(r.stderr, /^sparrow: \[[A-Z_]+\] /, `${name}: printed as sparrow: [CODE] message`);
    else t.match(r.stderr, /Run "sparrow --help" for usage/, `${name}: points at the usage`);
    t.notMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `${name}: no stack trace`);
  });
  t.notOk(fs.existsSync(path.join(out, 'metrics.json')), 'no failed run wrote metrics');
});
