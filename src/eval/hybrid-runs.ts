import fs from 'node:fs';
import { readQueries } from './beir-eval.js';
import os from 'node:os';
import path from 'node:path';
import { documentText } from '../encoders/dense.js';
import { staticEmbeddingsConfig, wordIdf } from '../encoders/static-embeddings.js';
import type { Collection } from '../engine/collection.js';
import { toIngestDocument } from '../engine/documents.js';
import { Engine } from '../engine/engine.js';
import type { DenseStorage } from '../index/dense/exact.js';
import { openBeirFolder, type BeirFolder } from '../jobs/beir.js';
import { ingestFile, type IngestSummary } from '../jobs/ingest.js';
import { openInput, readJsonLines } from '../common/json-lines.js';
import type { Qrels, Run, ScoredDocument } from './metrics.js';
import { readQrels } from './trec-files.js';

/**
 * The two retrievers of a hybrid evaluation over one BEIR folder: one collection with BM25 and a
 * dense side, filled by the same ingestion and searched by the same calls the server uses (sparse
 * alone, then dense alone, so that every fusion can be applied to the same two runs).
 * Built once; `runs(split)` answers every judged query of a split with both.
 */
export interface HybridRetrieverOptions {
  readonly dir: string;
  /** Dense encoder configuration (see createDenseEncoder); default the static GloVe encoder. */
  readonly dense?: Readonly<Record<string, unknown>>;
  readonly denseIndex?: 'exact' | 'hnsw';
  readonly denseStorage?: DenseStorage;
  /** BM25 fields setting ("flat" default). */
  readonly fields?: 'flat' | 'multifield';
  /** Drop a document whose id equals the query id (BEIR reference runs do). Default true. */
  readonly removeQuery?: boolean;
  readonly onProgress?: (stage: string, done: number, total: number) => void;
}

export interface SplitRuns {
  readonly split: string;
  readonly qrels: Qrels;
  readonly sparse: Run;
  readonly dense: Run;
  /** Milliseconds per query: [sparse, dense]. */
  readonly latencies: { readonly sparse: number[]; readonly dense: number[] };
}

export const DEFAULT_DENSE_ENCODER = { type: 'static' } as const;

export class HybridRetriever {
  readonly folder: BeirFolder;
  readonly dataset: string;
  readonly queries: Map<string, string>;
  readonly sparseSetting: string;
  readonly denseConfig: object;
  readonly indexing: IngestSummary;
  private readonly engine: Engine;
  private readonly dataDir: string;
  private readonly collection: Collection;
  private readonly removeQuery: boolean;

  private constructor(init: {
    folder: BeirFolder;
    queries: Map<string, string>;
    engine: Engine;
    dataDir: string;
    collection: Collection;
    indexing: IngestSummary;
    sparseSetting: string;
    denseConfig: object;
    removeQuery: boolean;
  }) {
    this.folder = init.folder;
    this.dataset = path.basename(path.resolve(init.folder.dir));
    this.queries = init.queries;
    this.engine = init.engine;
    this.dataDir = init.dataDir;
    this.collection = init.collection;
    this.indexing = init.indexing;
    this.sparseSetting = init.sparseSetting;
    this.denseConfig = init.denseConfig;
    this.removeQuery = init.removeQuery;
  }

  static async open(options: HybridRetrieverOptions): Promise<HybridRetriever> {
    const folder = openBeirFolder(options.dir);
    const queries = await readQueries(folder.queries);
    const fields = options.fields ?? 'flat';
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'sparrow-hybrid-'));
    const engine = Engine.open(dataDir);
    try {
      const denseEncoder: Record<string, unknown> = { ...(options.dense ?? DEFAULT_DENSE_ENCODER) };
      if (denseEncoder['type'] === 'static' && denseEncoder['idf'] === undefined) {
        // Word weights are the corpus' own IDF, written where the collection's encoder reads it.
        const textFields = staticEmbeddingsConfig(denseEncoder).textFields;
        const documents = await readCorpus(folder.corpus);
        const idf = wordIdf(documents.map((d) => documentText(d.fields, textFields)));
        const idfFile = path.join(dataDir, 'word-idf.json');
        fs.writeFileSync(idfFile, JSON.stringify(Object.fromEntries(idf)));
        denseEncoder['idf'] = idfFile;
      }
      // One collection with both sides: the same ingestion (both encoders in the bulk encoder
      // threads) and the same searches the server runs.
      const collection = engine.createCollection('hybrid', {
        encoder: { type: 'bm25', fields },
        dense: { encoder: denseEncoder, metric: 'cosine', storage: options.denseStorage ?? 'f32', index: options.denseIndex ?? 'exact' },
      });
      const indexing = await ingestFile(collection, folder.corpus, options.onProgress ? { onProgress: (p) => options.onProgress!('indexing', p.processed, 0) } : {});
      await collection.warmAsync();
      return new HybridRetriever({
        folder,
        queries,
        engine,
        dataDir,
        collection,
        indexing,
        sparseSetting: `bm25-${fields}`,
        denseConfig: collection.record.dense!,
        removeQuery: options.removeQuery ?? true,
      });
    } catch (error) {
      engine.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** A split's judgements, and its judged queries that have text. */
  async judged(split: string): Promise<{ qrels: Qrels; queryIds: string[] }> {
    const qrels = await readQrels(this.folder.qrels(split));
    return { qrels, queryIds: [...qrels.keys()].filter((id) => this.queries.has(id)) };
  }

  /** Both runs, top k per query, over the judged queries of a split that have text. */
  async runs(split: string, k: number, options: { queryIds?: readonly string[] } = {}): Promise<SplitRuns> {
    const judged = await this.judged(split);
    const qrels = judged.qrels;
    const ids = options.queryIds ?? judged.queryIds;
    const sparse: Run = new Map();
    const dense: Run = new Map();
    const latencies = { sparse: [] as number[], dense: [] as number[] };
    for (const queryId of ids) {
      const text = this.queries.get(queryId) ?? '';
      for (const side of ['sparse', 'dense'] as const) {
        const started = process.hrtime.bigint();
        const hits: ScoredDocument[] =
          text.trim().length === 0
            ? []
            : (await this.collection.searchAsync({ query: text, k, retrieval: side, ...(this.removeQuery ? { excludeIds: [queryId] } : {}) })).hits.map((h) => ({
                docId: h.id,
                score: h.score,
              }));
        latencies[side].push(Number(process.hrtime.bigint() - started) / 1e6);
        (side === 'sparse' ? sparse : dense).set(queryId, hits);
      }
    }
    return { split, qrels, sparse, dense, latencies };
  }

  async close(): Promise<void> {
    this.engine.close();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

async function readCorpus(file: string): Promise<{ id: string; fields: Record<string, unknown> }[]> {
  const { stream } = openInput(file);
  const documents: { id: string; fields: Record<string, unknown> }[] = [];
  const position = new Map<string, number>();
  for await (const entry of readJsonLines(stream)) {
    if (entry.error) continue;
    let document;
    try {
      document = toIngestDocument(entry.value);
    } catch {
      continue;
    }
    // A repeated id keeps its last version, as the sparse index does.
    const at = position.get(document.id);
    if (at !== undefined) documents[at] = document;
    else {
      position.set(document.id, documents.length);
      documents.push(document);
    }
  }
  return documents;
}

export { readQueries };
