import path from 'node:path';
import { type ParseArgsConfig } from 'node:util';
import { runBeirEvaluation } from '../../eval/beir-eval.js';
import { runHybridEvaluation, type HybridEvalOptions } from '../../eval/hybrid.js';
import type { HybridRetrieverOptions } from '../../eval/hybrid-runs.js';
import { runConvexTuning } from '../../eval/tune.js';
import { createDenseEncoder } from '../../encoders/dense-registry.js';
import { StaticEmbeddingEncoder } from '../../encoders/static-embeddings.js';
import { checkModelFolder } from '../../encoders/model-files.js';
import { openBeirFolder } from '../../jobs/beir.js';
import { ProgressBar, ingestDetail } from '../progress.js';
import { checkApproximateParams } from '../../engine/query-params.js';
import { EXIT, UsageError, CLI_PARAMETER_NAMES, usageOf, parse, dataDirOf, positiveInt, nonNegativeInt, fieldsOption, help } from '../shared.js';

export async function commandEval(args: string[]): Promise<number> {
  const [kind, ...rest] = args;
  if (kind === 'tune') return commandEvalTune(rest);
  const terminator = rest.indexOf('--');
  if (kind === 'beir' && (terminator < 0 ? rest : rest.slice(0, terminator)).includes('--hybrid')) return commandEvalHybrid(rest);
  if (kind !== 'beir') throw new UsageError('usage: sparrow eval beir DIR --out OUT [--hybrid], or sparrow eval tune DIR');
  const { values, positionals } = parse(rest, {
    out: { type: 'string' },
    split: { type: 'string', default: 'test' },
    fields: { type: 'string' },
    k: { type: 'string' },
    k1: { type: 'string' },
    b: { type: 'string' },
    'keep-query-doc': { type: 'boolean', default: false },
    mode: { type: 'string' },
    'query-cut': { type: 'string' },
    'heap-factor': { type: 'string' },
    'index-settings': { type: 'string' },
  });
  if (values.help) return help();
  const [dir] = positionals;
  if (!dir || positionals.length > 1) throw new UsageError('usage: sparrow eval beir DIR --out OUT');
  if (!values.out) throw new UsageError('--out OUT is required');
  const number = (v: unknown, name: string): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`${name} must be a number`);
    return n;
  };
  const evalMode = values.mode as string | undefined;
  if (evalMode !== undefined && evalMode !== 'exact' && evalMode !== 'approximate') throw new UsageError('--mode must be exact or approximate');
  const evalQueryCut = positiveInt(values['query-cut'], '--query-cut');
  const evalHeapFactor = number(values['heap-factor'], '--heap-factor');
  usageOf(() => checkApproximateParams({ ...(evalQueryCut !== undefined ? { queryCut: evalQueryCut } : {}), ...(evalHeapFactor !== undefined ? { heapFactor: evalHeapFactor } : {}) }, CLI_PARAMETER_NAMES));
  let indexSettings: Record<string, unknown> | undefined;
  if (values['index-settings'] !== undefined) {
    try {
      indexSettings = JSON.parse(values['index-settings'] as string) as Record<string, unknown>;
    } catch {
      throw new UsageError('--index-settings must be JSON, e.g. \'{"build": {"summaryEnergy": 0.5}}\'');
    }
  }
  const bar = new ProgressBar('eval');
  const k = positiveInt(values.k, '--k');
  const fields = fieldsOption(values.fields);
  const k1 = number(values.k1, '--k1');
  const b = number(values.b, '--b');
  const result = await runBeirEvaluation({
    dir: path.resolve(dir),
    out: path.resolve(values.out as string),
    split: values.split as string,
    ...(fields ? { fields } : {}),
    ...(k ? { k } : {}),
    ...(k1 !== undefined ? { k1 } : {}),
    ...(b !== undefined ? { b } : {}),
    removeQuery: !(values['keep-query-doc'] as boolean),
    ...(evalMode ? { mode: evalMode as 'exact' | 'approximate' } : {}),
    ...(evalQueryCut !== undefined || evalHeapFactor !== undefined
      ? { approximate: { ...(evalQueryCut ? { queryCut: evalQueryCut } : {}), ...(evalHeapFactor !== undefined ? { heapFactor: evalHeapFactor } : {}) } }
      : {}),
    ...(indexSettings ? { indexSettings } : {}),
    ...(values['data-dir'] ? { dataDir: dataDirOf(values) } : {}),
    onIndexProgress: (p) => {
      const { fraction, detail } = ingestDetail(p);
      bar.update(fraction, `indexing: ${detail}`);
    },
    onQueryProgress: (done, total) => bar.update(done / total, `searching: ${done}/${total} queries`),
  });
  bar.done();
  if (values.json) {
    process.stdout.write(JSON.stringify({ dataset: result.dataset, setting: result.setting, metrics: result.metrics, query_latency: result.queryLatency }, null, 2) + '\n');
    return EXIT.ok;
  }
  const m = result.metrics;
  const ref = result.reference;
  const out = process.stdout;
  out.write(`${result.dataset} ${result.setting} (${result.split}, ${result.queries} queries)\n`);
  for (const name of ['ndcg_cut_10', 'recall_100', 'recall_1000', 'map', 'recip_rank', 'P_10'] as const) {
    const published = ref?.[name as 'ndcg_cut_10'];
    out.write(`  ${name.padEnd(12)} ${m[name]!.toFixed(4)}${published !== undefined ? `   published ${published.toFixed(4)}  (${(m[name]! - published >= 0 ? '+' : '') + (m[name]! - published).toFixed(4)})` : ''}\n`);
  }
  const ix = result.indexing;
  out.write(`  indexing     ${ix.indexed + ix.updated} docs in ${(ix.elapsedMs / 1000).toFixed(2)} s, ${ix.docsPerSecond.toFixed(0)} docs/s\n`);
  out.write(`  queries      p50 ${result.queryLatency.p50_ms.toFixed(3)} ms, p99 ${result.queryLatency.p99_ms.toFixed(3)} ms\n`);
  out.write(`  wrote ${result.files.run}, ${result.files.metrics}, ${result.files.report}\n`);
  return EXIT.ok;
}

/** Flags shared by `eval beir --hybrid` and `eval tune`: the two retrievers built over the folder. */
const HYBRID_RETRIEVER_FLAGS: ParseArgsConfig['options'] = {
  dense: { type: 'string' },
  'dense-embeddings': { type: 'string' },
  pooling: { type: 'string' },
  'dense-index': { type: 'string' },
  'dense-storage': { type: 'string' },
  fields: { type: 'string' },
  k: { type: 'string' },
  'keep-query-doc': { type: 'boolean', default: false },
};

function choiceOption<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) throw new UsageError(`${name} must be ${allowed.slice(0, -1).join(', ')} or ${allowed[allowed.length - 1]}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** Hits per query of each run, also the fusion window: 1 to 10000, as the library accepts. */
function hybridK(value: unknown): number | undefined {
  const k = positiveInt(value, '--k');
  if (k !== undefined && k > 10_000) throw new UsageError(`--k must be at most 10000, got ${k}`);
  return k;
}

/** The trec_eval measures the convex weight can be tuned on (see measureOptions in src/eval/tune.ts). */
function measureOption(value: unknown, name: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^(?:(?:ndcg_cut|recall|P)_[1-9]\d*|map|recip_rank)$/.test(value)) {
    throw new UsageError(`${name} must be ndcg_cut_N, recall_N, P_N, map or recip_rank, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * HybridRetrieverOptions from the shared flags. The folder and the dense encoder are checked here,
 * before the BM25 index is built: a missing model folder or word-vector file fails at once rather
 * than after minutes of indexing. Word vectors loaded here are cached, so the retriever's own load
 * costs nothing more.
 */
async function hybridRetrieverOptions(dir: string, values: Record<string, unknown>): Promise<HybridRetrieverOptions> {
  const denseFlag = (values['dense'] as string | undefined) ?? 'static';
  if (denseFlag.trim() === '') throw new UsageError('--dense must be static or a model folder');
  const embeddings = values['dense-embeddings'] as string | undefined;
  if (embeddings !== undefined && embeddings.trim() === '') throw new UsageError('--dense-embeddings must be a file path');
  const pooling = choiceOption(values['pooling'], '--pooling', ['mean', 'cls'] as const);
  let dense: Record<string, unknown>;
  if (denseFlag === 'static') {
    if (pooling) throw new UsageError('--pooling applies to a model folder (--dense DIR), not to --dense static');
    dense = { type: 'static', ...(embeddings !== undefined ? { embeddings: path.resolve(embeddings) } : {}) };
  } else {
    if (embeddings !== undefined) throw new UsageError('--dense-embeddings applies to --dense static, not to a model folder');
    dense = { type: 'transformers', model: path.resolve(denseFlag), ...(pooling ? { pooling } : {}) };
  }
  const denseIndex = choiceOption(values['dense-index'], '--dense-index', ['exact', 'hnsw'] as const);
  const denseStorage = choiceOption(values['dense-storage'], '--dense-storage', ['f32', 'int8'] as const);
  if (denseStorage && denseIndex === 'hnsw') throw new UsageError('--dense-storage applies to --dense-index exact, not hnsw');
  const fields = fieldsOption(values['fields']);
  const folder = openBeirFolder(path.resolve(dir));
  const encoder = createDenseEncoder(dense);
  if (encoder instanceof StaticEmbeddingEncoder) await encoder.load();
  else checkModelFolder((encoder.config as { model: string }).model, 'model');
  return {
    dir: folder.dir,
    dense,
    ...(denseIndex ? { denseIndex } : {}),
    ...(denseStorage ? { denseStorage } : {}),
    ...(fields ? { fields } : {}),
    removeQuery: !(values['keep-query-doc'] as boolean),
  };
}

function hybridProgress(bar: ProgressBar): (stage: string, done: number, total: number) => void {
  return (stage, done, total) => bar.update(total > 0 ? done / total : undefined, total > 0 ? `${stage}: ${done}/${total}` : `${stage}: ${done} docs`);
}

/** `sparrow eval beir DIR --hybrid`: sparse, dense and fused runs side by side (runHybridEvaluation). */
export async function commandEvalHybrid(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...HYBRID_RETRIEVER_FLAGS,
    hybrid: { type: 'boolean', default: false },
    out: { type: 'string' },
    split: { type: 'string', default: 'test' },
    'tune-split': { type: 'string' },
    'no-tune': { type: 'boolean', default: false },
    'tune-queries': { type: 'string' },
    'tune-seed': { type: 'string' },
    'tune-measure': { type: 'string' },
  });
  if (values.help) return help();
  const [dir] = positionals;
  if (!dir || positionals.length > 1) throw new UsageError('usage: sparrow eval beir DIR --hybrid --out OUT');
  if (!values.out) throw new UsageError('--out OUT is required');
  const split = values.split as string;
  const k = hybridK(values.k);
  const tuneSplitFlag = values['tune-split'] as string | undefined;
  if (tuneSplitFlag !== undefined && tuneSplitFlag.trim() === '') throw new UsageError('--tune-split must name a split');
  const tuneQueries = positiveInt(values['tune-queries'], '--tune-queries');
  const tuneSeed = nonNegativeInt(values['tune-seed'], '--tune-seed');
  const tuneMeasure = measureOption(values['tune-measure'], '--tune-measure');
  const tuneAsked = tuneSplitFlag !== undefined || tuneQueries !== undefined || tuneSeed !== undefined || tuneMeasure !== undefined;
  if (values['no-tune'] && tuneAsked) throw new UsageError('--no-tune cannot be combined with --tune-split, --tune-queries, --tune-seed or --tune-measure');
  if (tuneSplitFlag !== undefined && tuneSplitFlag === split) throw new UsageError(`--tune-split must differ from the evaluated --split (${split})`);
  if (tuneSplitFlag === undefined && tuneAsked && split === 'train') throw new UsageError('the evaluated split is train, the default tuning split: name another with --tune-split');
  // The default tuning split (train) is used when the folder judges it; one asked for must exist.
  const tuneSplit = values['no-tune'] ? undefined : (tuneSplitFlag ?? (split === 'train' ? undefined : 'train'));
  const retriever = await hybridRetrieverOptions(dir, values);
  if (tuneSplit !== undefined && tuneAsked) openBeirFolder(retriever.dir).qrels(tuneSplit);
  if (tuneSplit === undefined && !values['no-tune']) process.stderr.write('sparrow: no tuned run: the evaluated split is train, the default tuning split (name another with --tune-split)\n');
  const out = path.resolve(values.out as string);
  const bar = new ProgressBar('hybrid eval');
  const result = await runHybridEvaluation({
    ...retriever,
    out,
    split,
    ...(k ? { k } : {}),
    tune:
      tuneSplit === undefined
        ? false
        : {
            split: tuneSplit,
            ...(tuneQueries !== undefined ? { queries: tuneQueries } : {}),
            ...(tuneSeed !== undefined ? { seed: tuneSeed } : {}),
            ...(tuneMeasure !== undefined ? { measure: tuneMeasure } : {}),
          },
    onProgress: hybridProgress(bar),
  } satisfies HybridEvalOptions);
  bar.done();
  if (result.queries === 0) process.stderr.write(`sparrow: warning: the ${split} split has no judged query with text; every metric is 0\n`);
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return EXIT.ok;
  }
  const o = process.stdout;
  o.write(`${result.dataset} hybrid (${result.split}, ${result.queries} queries)\n`);
  const width = Math.max(3, ...result.runs.map((r) => r.name.length));
  o.write(`  ${'run'.padEnd(width)}  ${'nDCG@10'.padStart(7)}  ${'R@100'.padStart(7)}  ${'R@1000'.padStart(7)}\n`);
  for (const r of result.runs) {
    const cells = (['ndcg_cut_10', 'recall_100', 'recall_1000'] as const).map((m) => (r.metrics[m] ?? Number.NaN).toFixed(4).padStart(7));
    o.write(`  ${r.name.padEnd(width)}  ${cells.join('  ')}\n`);
  }
  const tuning = result.tuning;
  if (tuning) {
    o.write(
      `  tuned on ${tuning.split} (${tuning.queries} queries): sparse ${tuning.best.sparseWeight} / dense ${tuning.best.denseWeight}, ` +
        `${tuning.measure} ${tuning.best.value.toFixed(4)} on ${tuning.split}\n`,
    );
  } else if (tuneSplit !== undefined) {
    o.write(`  no tuned run: the folder has no judgements for the ${tuneSplit} split\n`);
  }
  o.write(`  wrote ${result.files.report} and ${result.files.metrics} (runs in ${path.join(out, 'runs')})\n`);
  return EXIT.ok;
}

/** `sparrow eval tune DIR`: the convex sparse/dense weight picked on a judged split (runConvexTuning). */
export async function commandEvalTune(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    ...HYBRID_RETRIEVER_FLAGS,
    split: { type: 'string', default: 'train' },
    queries: { type: 'string' },
    seed: { type: 'string' },
    measure: { type: 'string' },
    out: { type: 'string' },
  });
  if (values.help) return help();
  const [dir] = positionals;
  if (!dir || positionals.length > 1) throw new UsageError('usage: sparrow eval tune DIR [--split train] [--out OUT]');
  const split = values.split as string;
  if (split.trim() === '') throw new UsageError('--split must name a split');
  const queries = positiveInt(values.queries, '--queries');
  const seed = nonNegativeInt(values.seed, '--seed');
  const measure = measureOption(values.measure, '--measure');
  const k = hybridK(values.k);
  const retriever = await hybridRetrieverOptions(dir, values);
  openBeirFolder(retriever.dir).qrels(split);
  const bar = new ProgressBar('tune');
  const result = await runConvexTuning({
    ...retriever,
    split,
    ...(queries !== undefined ? { queries } : {}),
    ...(seed !== undefined ? { seed } : {}),
    ...(measure !== undefined ? { measure } : {}),
    ...(k ? { depth: k } : {}),
    ...(values.out ? { out: path.resolve(values.out as string) } : {}),
    onProgress: hybridProgress(bar),
  });
  bar.done();
  if (values.json) {
    process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    return EXIT.ok;
  }
  const o = process.stdout;
  o.write(`${result.dataset}: convex weight tuned on the ${result.split} split (${result.queries} judged queries, ${result.normalization} normalization)\n`);
  o.write(`  chosen       sparse ${result.best.sparseWeight} / dense ${result.best.denseWeight}: ${result.measure} ${result.best.value.toFixed(4)}\n`);
  o.write(`  alone        sparse ${result.sparseAlone.toFixed(4)}, dense ${result.denseAlone.toFixed(4)}\n`);
  o.write(`  sparse weight  ${result.measure}\n`);
  for (const g of result.grid) o.write(`  ${g.sparseWeight.toFixed(2).padStart(13)}  ${g.value.toFixed(4)}${g.sparseWeight === result.best.sparseWeight ? '  <- chosen' : ''}\n`);
  if (result.file) o.write(`  wrote ${result.file}\n`);
  return EXIT.ok;
}
