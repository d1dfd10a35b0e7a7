import path from 'node:path';
import { Engine } from '../../engine/engine.js';
import { readSparseQueries } from '../../eval/query-file.js';
import { tuneRecall, writeTuneReport } from '../../eval/recall-tune.js';
import { EXIT, UsageError, parse, dataDirOf, positiveInt, nonNegativeInt, help } from '../shared.js';

export async function commandTune(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    'target-recall': { type: 'string' },
    k: { type: 'string', short: 'k' },
    queries: { type: 'string' },
    sample: { type: 'string' },
    seed: { type: 'string' },
    out: { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  });
  if (values.help) return help();
  const [name] = positionals;
  if (!name || positionals.length > 1) throw new UsageError('usage: sparrow tune COLLECTION --target-recall 0.95 [--k 10] [--queries FILE | --sample N] [--out DIR]');
  if (values['target-recall'] === undefined) throw new UsageError('--target-recall is required, e.g. --target-recall 0.95');
  const targetRecall = Number(values['target-recall']);
  if (!(targetRecall > 0 && targetRecall <= 1)) throw new UsageError(`--target-recall must be in (0, 1], got ${JSON.stringify(values['target-recall'])}`);
  if (values.queries !== undefined && values.sample !== undefined) throw new UsageError('give --queries FILE or --sample N, not both');
  const k = positiveInt(values.k, '-k') ?? 10;
  const sample = positiveInt(values.sample, '--sample');
  const seed = nonNegativeInt(values.seed, '--seed');
  const engine = Engine.openExisting(dataDirOf(values));
  try {
    const collection = engine.collection(name);
    const queries = values.queries !== undefined ? await readSparseQueries(path.resolve(values.queries as string)) : undefined;
    const result = await tuneRecall(collection, {
      targetRecall,
      k,
      ...(queries ? { queries } : {}),
      ...(sample !== undefined ? { sample } : {}),
      ...(seed !== undefined ? { seed } : {}),
      apply: !values['dry-run'],
    });
    const report = writeTuneReport(result, path.resolve((values.out as string | undefined) ?? path.join('out', `tune-${name}`)));
    if (values.json) {
      process.stdout.write(JSON.stringify({ ...result, report }, null, 2) + '\n');
    } else {
      const out = process.stdout;
      const { before, chosen } = result;
      out.write(`${name}: ${result.queries} queries (${result.source}), recall@${k} against exact search\n`);
      out.write(`before: queryCut ${before.queryCut}, heapFactor ${before.heapFactor}: recall ${before.recall.toFixed(4)}, p50 ${before.p50Ms.toFixed(3)} ms\n`);
      if (chosen) {
        out.write(
          `${result.applied ? 'now' : 'would be'}: queryCut ${chosen.queryCut}, heapFactor ${chosen.heapFactor}${chosen.knn !== undefined ? `, knn ${chosen.knn}` : ''}: recall ${chosen.recall.toFixed(4)}, p50 ${chosen.p50Ms.toFixed(3)} ms` +
            ` (${(before.p50Ms / chosen.p50Ms).toFixed(2)}x the speed of before)\n`,
        );
      } else {
        out.write(`no setting reaches recall ${targetRecall}; the best is ${Math.max(...result.points.map((p) => p.recall)).toFixed(4)}; the defaults are unchanged\n`);
      }
      out.write(`report: ${report.markdown}, ${report.png}\n`);
    }
    return result.chosen ? EXIT.ok : EXIT.failed;
  } finally {
    engine.close();
  }
}
