import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import roaring from 'roaring';
import { ExactIndex, type ExactQuery } from '../index/exact.js';
import type { DocumentView } from './document-view.js';
import { DEFAULT_QUERY_PARAMS, resolveBuildParams, type SeismicBuildParams, type SeismicQueryParams } from '../index/seismic/params.js';
import { WasmSeismicSearcher } from '../index/seismic/query-wasm.js';
import type { SearchPool } from './search-pool.js';
import { searchSegment, type SegmentSearchTask } from './segment-search.js';
import type { SearchResult } from '../index/seismic/search-api.js';
import { readSegmentFileIntoSync, removeStaleSegmentTempFiles, type SegmentMetadata } from '../index/segment/segment-file.js';
import { ScoringCore } from '../scoring/wasm-core.js';
import type { SegmentRecord, Store } from '../store/store.js';
import { SparrowError } from '../common/errors.js';
import type { SegmentBuildJob, SegmentBuildReply } from './segment-build-worker.js';
import { buildErrorCode } from './build-error-code.js';
import { BUILD_POSTINGS_DONE, BUILD_POSTINGS_TOTAL } from '../index/seismic/build.js';
import { checkApproximateParams, type ApproximateParams } from './query-params.js';

const { RoaringBitmap32 } = roaring;
type Bitmap = InstanceType<typeof RoaringBitmap32>;

/** Index settings of a collection's approximate index (stored with the collection as JSON). */
export interface SegmentSettings {
  /** Documents waiting outside segments before a segment is built from them. */
  readonly segmentMinDocs: number;
  /** When more segments than this exist, the smallest ones are merged into one. */
  readonly mergeFactor: number;
  /** Seismic build parameters (src/index/seismic/params.ts). */
  readonly build: Partial<SeismicBuildParams>;
  /** Default query parameters: queryCut and heapFactor. */
  readonly query: Partial<SeismicQueryParams>;
  /**
   * A filtered query whose filter allows at most this many documents is answered exactly:
   * skipping blocks by summaries that mostly describe filtered-out documents would make recall collapse.
   */
  readonly filterExactBelow: number;
  /**
   * Largest segment built or merged. Each segment is served by its own wasm32 instance, which
   * addresses at most 4 GiB; about 1.3 KB per document of 160 terms (f32 forward values, postings,
   * summaries) keeps a million-document segment near 1.5 GiB, well inside that limit.
   */
  readonly maxSegmentDocs: number;
}

export const DEFAULT_SEGMENT_SETTINGS: SegmentSettings = Object.freeze({
  segmentMinDocs: 10_000,
  mergeFactor: 8,
  build: {},
  query: {},
  filterExactBelow: 5000,
  maxSegmentDocs: 1_000_000,
});

export function segmentSettings(raw: Readonly<Record<string, unknown>>): SegmentSettings {
  const settings = { ...DEFAULT_SEGMENT_SETTINGS, ...(raw as Partial<SegmentSettings>) };
  if (!Number.isInteger(settings.segmentMinDocs) || settings.segmentMinDocs < 1) {
    throw new SparrowError('INVALID_INDEX_SETTINGS', 'segmentMinDocs must be a positive integer');
  }
  if (!Number.isInteger(settings.mergeFactor) || settings.mergeFactor < 2) {
    throw new SparrowError('INVALID_INDEX_SETTINGS', 'mergeFactor must be an integer >= 2');
  }
  if (!Number.isInteger(settings.maxSegmentDocs) || settings.maxSegmentDocs < 1) {
    throw new SparrowError('INVALID_INDEX_SETTINGS', 'maxSegmentDocs must be a positive integer');
  }
  if (!Number.isInteger(settings.filterExactBelow) || settings.filterExactBelow < 0) {
    throw new SparrowError('INVALID_INDEX_SETTINGS', 'filterExactBelow must be an integer >= 0');
  }
  // Checked here, not first in a build worker minutes later (or at the first query).
  try {
    resolveBuildParams(settings.build);
  } catch (error) {
    throw new SparrowError('INVALID_INDEX_SETTINGS', `build: ${(error as Error).message}`);
  }
  try {
    checkApproximateParams(settings.query as ApproximateParams);
  } catch (error) {
    throw new SparrowError('INVALID_INDEX_SETTINGS', `query: ${(error as Error).message}`);
  }
  return settings;
}

export interface BuildProgress {
  readonly kind: 'build' | 'merge';
  readonly documents: number;
  /** Documents still to be read from the store by buildFromStore after this build. */
  readonly pendingDocuments: number;
  readonly postingsDone: number;
  readonly postingsTotal: number;
  readonly elapsedSeconds: number;
  readonly postingsPerSecond: number;
  readonly secondsLeft: number | undefined;
}

interface LoadedSegment {
  readonly record: SegmentRecord;
  /** The segment's name on the engine's search threads. */
  readonly poolKey: string;
  readonly docNumbers: Uint32Array;
  readonly searcher: WasmSeismicSearcher;
  /** Tombstones: rows whose document was deleted or replaced after the segment was built. */
  readonly deletedRows: Bitmap;
  /** The same tombstones as dense bit words, the form the scoring core reads. */
  deletedWords: Uint32Array;
}

export interface ApproximateOptions {
  readonly k: number;
  readonly queryCut?: number;
  readonly heapFactor?: number;
  /** Only these doc numbers may be returned. */
  readonly allow?: Bitmap;
  /**
   * The exact top-k of the stored vectors by block-max bounds (mode "safe") instead of Seismic's
   * approximate lists; queryCut and heapFactor do not apply.
   */
  readonly safe?: boolean;
  /** kNN refinement: neighbours of each result scored from the segment's graph (default all; 0 off). */
  readonly knn?: number;
}

export interface Candidate {
  readonly docNumber: number;
  readonly score: number;
}

/**
 * The approximate side of a collection: immutable Seismic segments on disk plus a small "tail" of
 * documents not yet in any segment, searched exactly with the same dot-product scoring. Segments are
 * built and merged in worker threads; the swap into the searchable set is a single synchronous step,
 * so a search sees either the old set or the new one.
 *
 * Scores: document weights are frozen in a segment when it is built (for BM25, the length
 * normalisation uses the average length of that moment), query weights use live statistics.
 */
/** Installed segments so far in this process: names segments on the search threads uniquely. */
let installedSegments = 0;

export class SegmentSet {
  private readonly segments: LoadedSegment[] = [];
  private readonly tail: ExactIndex;
  private readonly tailVectors = new Map<number, { indices: Uint32Array; weights: Float32Array }>();
  private building: Promise<void> | undefined;
  private pendingFromStore = 0;
  /** Packs a bulk load's documents into the next segment build (see beginBulk). */
  private bulk: CsrPacker | undefined;
  /** The build in progress, if any: what it builds and its shared counters. */
  private current: { kind: 'build' | 'merge'; documents: number; startedAt: number; counters: Int32Array } | undefined;
  private closed = false;
  private lastError: { code: string; message: string } | undefined;

  constructor(
    private readonly store: Store,
    private readonly collectionId: number,
    private readonly directory: string,
    private settings: SegmentSettings,
    private readonly metadataForBuild: () => SegmentMetadata,
    private readonly externalId: (docNumber: number) => string,
    private readonly threads: { readonly searchPool?: SearchPool; readonly searchThreadsMinDocs?: number } = {},
  ) {
    this.tail = new ExactIndex('dot', 0);
  }

  /** Opens the recorded segments, drops what a crash may have left, and applies tombstones. */
  static open(
    store: Store,
    collectionId: number,
    directory: string,
    settings: SegmentSettings,
    metadataForBuild: () => SegmentMetadata,
    full: DocumentView,
    threads: { readonly searchPool?: SearchPool; readonly searchThreadsMinDocs?: number } = {},
  ): SegmentSet {
    const set = new SegmentSet(store, collectionId, directory, settings, metadataForBuild, (doc) => full.externalId(doc), threads);
    fs.mkdirSync(directory, { recursive: true });
    const recorded = store.listSegments(collectionId);
    const known = new Set(recorded.map((r) => r.fileName));
    for (const name of fs.readdirSync(directory)) {
      // A file with no row is garbage: its build finished but was never recorded (or was replaced).
      if (name.endsWith('.seg') && !known.has(name)) fs.rmSync(path.join(directory, name), { force: true });
    }
    void removeStaleSegmentTempFiles(directory).catch(() => undefined);
    for (const record of recorded) {
      try {
        set.install(record, full);
      } catch (error) {
        // An unreadable segment is forgotten and set aside as NAME.corrupt for inspection; its
        // documents go back to the tail and are rebuilt from the store.
        set.lastError = { code: (error as { code?: string }).code ?? 'SEGMENT_UNREADABLE', message: (error as Error).message };
        store.forgetSegment(collectionId, record.segmentId);
        const file = path.join(directory, record.fileName);
        if (fs.existsSync(file)) fs.renameSync(file, `${file}.corrupt`);
      }
    }
    return set;
  }

  /**
   * Documents that are in no segment and not in the tail yet, because buildFromStore is packing
   * them into segments: until it is done the approximate side cannot answer for them.
   */
  get pendingOutsideTail(): number {
    return this.pendingFromStore;
  }

  /**
   * Builds segments straight from the store for documents in no segment (a collection opened after
   * a bulk load): read in doc-number order, packed into segments of up to maxSegmentDocs, never held
   * in the tail. `docNumbers` (ascending) are the documents to build; those deleted meanwhile are skipped.
   */
  buildFromStore(docNumbers: Uint32Array, full: DocumentView): Promise<void> {
    return this.enqueue(docNumbers.length, async () => {
      // Field statistics are read before the store is iterated: nothing else may use the
      // connection while an iterator is open.
      full.averageLengths();
      for (let start = 0; start < docNumbers.length && !this.closed; start += this.settings.maxSegmentDocs) {
        const chunk = docNumbers.subarray(start, Math.min(docNumbers.length, start + this.settings.maxSegmentDocs));
        const packer = new CsrPacker(chunk.length);
        let next = 0;
        for (const doc of this.store.iterateVectorsInRange(this.collectionId, chunk[0]!, chunk[chunk.length - 1]!)) {
          while (next < chunk.length && chunk[next]! < doc.docNumber) next++;
          if (next === chunk.length || chunk[next] !== doc.docNumber || !full.isAlive(doc.docNumber) || this.contains(doc.docNumber)) continue;
          packer.push(doc.docNumber, doc.indices, full.documentWeights(doc.indices, doc.values, doc.fieldLengths));
        }
        if (packer.rows > 0 && !this.closed) await this.buildAndInstall(packer.finish(), [], full);
      }
    });
  }

  /**
   * A bulk load of learned-sparse vectors: from now on new documents are packed, as they are
   * committed, into the next segment's build instead of the tail (no read-back from the store
   * afterwards). A full pack is built while the load goes on; endBulk builds the rest. Until then
   * those documents count in pendingOutsideTail, so queries are answered exactly. Only for weights
   * that do not depend on collection statistics (dot scoring): BM25's length norms need the
   * final average lengths, so its documents are weighed when they are read back.
   */
  beginBulk(): void {
    this.bulk ??= new CsrPacker(BULK_INITIAL_ROWS);
  }

  get bulkActive(): boolean {
    return this.bulk !== undefined;
  }

  addManyToBulk(docs: readonly { docNumber: number; indices: Uint32Array; weights: Float32Array }[], full: DocumentView): void {
    const bulk = this.bulk!;
    for (const { docNumber, indices, weights } of docs) bulk.push(docNumber, indices, weights);
    this.pendingFromStore += docs.length;
    if (bulk.rows >= this.settings.maxSegmentDocs) {
      this.bulk = new CsrPacker(BULK_INITIAL_ROWS);
      void this.buildPacked(bulk, full);
    }
  }

  /**
   * Ends a bulk load: what is packed becomes a segment when forced or when it reaches
   * segmentMinDocs, and otherwise moves to the tail. Resolves when the builds are done.
   */
  async endBulk(full: DocumentView, force: boolean): Promise<void> {
    const bulk = this.bulk;
    if (!bulk) return;
    this.bulk = undefined;
    if (force || bulk.rows >= this.settings.segmentMinDocs) {
      await this.buildPacked(bulk, full);
    } else if (bulk.rows > 0) {
      const packed = bulk.finish();
      this.pendingFromStore -= packed.docNumbers.length;
      const docs = Array.from(packed.docNumbers, (docNumber, row) => ({
        docNumber,
        indices: packed.indices.slice(packed.indptr[row]!, packed.indptr[row + 1]!),
        weights: packed.values.slice(packed.indptr[row]!, packed.indptr[row + 1]!),
      }));
      this.addManyToTail(docs.filter((doc) => full.isAlive(doc.docNumber)));
    }
    await this.idle();
  }

  /** Builds what a bulk packer holds (after the work already queued). */
  private buildPacked(bulk: CsrPacker, full: DocumentView): Promise<void> {
    const packed = bulk.finish();
    // Counted when added; enqueue counts it again until the build is installed, then both go.
    this.pendingFromStore -= packed.docNumbers.length;
    return this.enqueue(packed.docNumbers.length, async () => {
      // Documents deleted or replaced meanwhile are tombstoned when the segment is installed.
      if (packed.docNumbers.length > 0 && !this.closed) await this.buildAndInstall(packed, [], full);
    });
  }

  /**
   * Runs background segment work after whatever runs now; `pending` documents count as outside
   * the tail (see pendingOutsideTail) until it is done. Failures become lastError.
   */
  private enqueue(pending: number, work: () => Promise<void>): Promise<void> {
    this.pendingFromStore += pending;
    const previous = this.building;
    const tracked: Promise<void> = (async () => {
      if (previous) await previous;
      try {
        await work();
        // A build or merge that went through supersedes an earlier failure.
        this.lastError = undefined;
      } catch (error) {
        this.lastError = { code: buildErrorCode(error), message: (error as Error).message };
      } finally {
        this.pendingFromStore -= pending;
      }
    })().finally(() => {
      if (this.building === tracked) this.building = undefined;
    });
    this.building = tracked;
    return tracked;
  }

  /** New default query parameters for searches from now on (a tuned setting). */
  setQueryDefaults(query: SegmentSettings['query']): void {
    this.settings = { ...this.settings, query };
  }

  /** Settings that apply from now on (query defaults, build and merge thresholds); build parameters stay. */
  applySettings(settings: SegmentSettings): void {
    this.settings = { ...settings, build: this.settings.build };
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  get tailSize(): number {
    return this.tailVectors.size;
  }

  get error(): { code: string; message: string } | undefined {
    return this.lastError;
  }

  statistics(): {
    segments: { id: number; documents: number; deleted: number; bytes: number; knnNeighbors: number }[];
    tail: number;
    building: boolean;
    error?: { code: string; message: string };
  } {
    return {
      ...(this.lastError ? { error: this.lastError } : {}),
      segments: this.segments.map((s) => ({
        id: s.record.segmentId,
        documents: s.record.docCount,
        deleted: s.deletedRows.size,
        bytes: s.record.byteSize,
        knnNeighbors: s.searcher.knnStored,
      })),
      tail: this.tailVectors.size,
      building: this.building !== undefined,
    };
  }

  /** True when a segment holds this document (live or tombstoned). */
  contains(docNumber: number): boolean {
    return this.segmentOf(docNumber) !== undefined;
  }

  addToTail(docNumber: number, indices: Uint32Array, weights: Float32Array): void {
    this.addManyToTail([{ docNumber, indices, weights }]);
  }

  addManyToTail(docs: readonly { docNumber: number; indices: Uint32Array; weights: Float32Array }[]): void {
    const noLengths = new Uint32Array(0);
    for (const { docNumber, indices, weights } of docs) this.tailVectors.set(docNumber, { indices, weights });
    this.tail.addMany(docs.map(({ docNumber, indices, weights }) => ({ docNumber, externalId: this.externalId(docNumber), indices, values: weights, fieldLengths: noLengths })));
  }

  /** A document left the collection (deleted or replaced): tombstone it wherever it is. */
  remove(docNumber: number): void {
    const vector = this.tailVectors.get(docNumber);
    if (vector) {
      this.tailVectors.delete(docNumber);
      this.tail.remove(docNumber, vector.indices, new Uint32Array(0));
      return;
    }
    const found = this.segmentOf(docNumber);
    if (!found) return;
    const { segment, row } = found;
    if (segment.deletedRows.has(row)) return;
    segment.deletedRows.add(row);
    // Copy-on-write: a search in progress keeps reading the words it started with.
    const words = new Uint32Array(Math.max(segment.deletedWords.length, (segment.docNumbers.length + 31) >>> 5));
    words.set(segment.deletedWords);
    words[row >>> 5]! |= 1 << (row & 31);
    segment.deletedWords = words;
  }

  search(query: ExactQuery, options: ApproximateOptions): Candidate[] {
    const planned = this.segmentTasks(query, options);
    const results = planned.map(({ segment, task }) => searchSegment(segment.searcher, task));
    return this.candidates(planned, results, query, options);
  }

  /**
   * search(), with the segments searched by the engine's search threads when it has them and the
   * segments hold at least searchThreadsMinDocs documents (safe mode stays on this thread: its
   * bounds are built by the instance that first needs them).
   */
  async searchAsync(query: ExactQuery, options: ApproximateOptions): Promise<Candidate[]> {
    const pool = this.threads.searchPool;
    const rows = this.segments.reduce((sum, s) => sum + s.docNumbers.length, 0);
    if (!pool || options.safe || pool.aliveThreads === 0 || rows < (this.threads.searchThreadsMinDocs ?? 0)) return this.search(query, options);
    const planned = this.segmentTasks(query, options);
    if (planned.length === 0) return this.search(query, options);
    let results: SearchResult[];
    try {
      results = await pool.run(planned.map(({ segment, task }) => ({ ...task, key: segment.poolKey, cost: segment.docNumbers.length })));
    } catch (error) {
      // A search thread that died costs this query its speed-up, not its answer.
      if ((error as { code?: string }).code !== 'SEARCH_THREAD_FAILED') throw error;
      return this.search(query, options);
    }
    return this.candidates(planned, results, query, options);
  }

  /** Each segment's part of a query (segments the query has no term of are left out). */
  private segmentTasks(query: ExactQuery, options: ApproximateOptions): { segment: LoadedSegment; task: SegmentSearchTask }[] {
    const queryCut = options.queryCut ?? this.settings.query.queryCut ?? DEFAULT_QUERY_PARAMS.queryCut;
    const heapFactor = options.heapFactor ?? this.settings.query.heapFactor ?? DEFAULT_QUERY_PARAMS.heapFactor;
    const knn = options.knn ?? this.settings.query.knn;
    const planned: { segment: LoadedSegment; task: SegmentSearchTask }[] = [];
    for (const segment of this.segments) {
      // Terms the segment never saw (added to the dictionary later) cannot match in it.
      let usable = 0;
      const dim = segment.searcher.dim;
      while (usable < query.termIds.length && query.termIds[usable]! < dim) usable++;
      if (usable === 0) continue;
      const excluded = options.allow ? this.excludedWithFilter(segment, options.allow) : segment.deletedWords;
      planned.push({
        segment,
        task: {
          indices: query.termIds.subarray(0, usable),
          values: query.weights.subarray(0, usable),
          k: options.k,
          queryCut,
          heapFactor,
          excluded,
          safe: options.safe === true,
          ...(knn !== undefined ? { knn } : {}),
        },
      });
    }
    return planned;
  }

  /** The segments' rows as doc numbers, plus the tail's exact answer. */
  private candidates(planned: readonly { segment: LoadedSegment }[], results: readonly SearchResult[], query: ExactQuery, options: ApproximateOptions): Candidate[] {
    const candidates: Candidate[] = [];
    planned.forEach(({ segment }, i) => {
      const result = results[i]!;
      for (let j = 0; j < result.docs.length; j++) candidates.push({ docNumber: segment.docNumbers[result.docs[j]!]!, score: result.scores[j]! });
    });
    const allow = options.allow;
    const tail = this.tail.search(query, { k: options.k, ...(allow ? { accept: (doc: number) => allow.has(doc) } : {}) });
    for (let i = 0; i < tail.docNumbers.length; i++) candidates.push({ docNumber: tail.docNumbers[i]!, score: tail.scores[i]! });
    return candidates;
  }

  /**
   * Builds a segment from the tail when it has grown to segmentMinDocs (or always, when forced
   * and the tail is not empty), then merges if there are too many segments. Resolves when done;
   * concurrent calls share one build.
   */
  maybeBuild(full: DocumentView, force = false): Promise<void> {
    if (this.building) return this.building;
    const due = force ? this.tailVectors.size > 0 : this.tailVectors.size >= this.settings.segmentMinDocs;
    const mergeDue = this.segments.length > this.settings.mergeFactor;
    if (!due && !mergeDue) return Promise.resolve();
    return this.enqueue(0, async () => {
      if (due) await this.buildFromTail(full);
      // Documents that arrived during the build may already make another segment due.
      while (!this.closed && this.tailVectors.size >= this.settings.segmentMinDocs) await this.buildFromTail(full);
      while (!this.closed && this.segments.length > this.settings.mergeFactor) {
        if (!(await this.mergeSmallest(full))) break;
      }
    });
  }

  /**
   * The segment build or merge in progress: documents, postings blocked of those kept, rate and
   * time left (from the rate so far); undefined when none runs. Read by the CLI's progress bar,
   * /metrics and the jobs that build.
   */
  buildProgress(now = Date.now()): BuildProgress | undefined {
    const current = this.current;
    if (!current) return undefined;
    const done = Atomics.load(current.counters, BUILD_POSTINGS_DONE);
    const total = Atomics.load(current.counters, BUILD_POSTINGS_TOTAL);
    const seconds = (now - current.startedAt) / 1000;
    const rate = seconds > 0 ? done / seconds : 0;
    return {
      kind: current.kind,
      documents: current.documents,
      pendingDocuments: this.pendingFromStore,
      postingsDone: done,
      postingsTotal: total,
      elapsedSeconds: seconds,
      postingsPerSecond: rate,
      // Pruning and clustering cuts come first (total still 0), writing and loading the file last.
      secondsLeft: total > 0 && rate > 0 ? (total - done) / rate : undefined,
    };
  }

  /** Waits for a build in progress, if any. */
  async idle(): Promise<void> {
    while (this.building) await this.building;
  }

  close(): void {
    this.closed = true;
    for (const segment of this.segments) {
      segment.searcher.dispose();
      this.threads.searchPool?.detach(segment.poolKey);
    }
    this.segments.length = 0;
  }

  private async buildFromTail(full: DocumentView): Promise<void> {
    const all = [...this.tailVectors.keys()].sort((a, b) => a - b);
    for (let start = 0; start < all.length && !this.closed; start += this.settings.maxSegmentDocs) {
      const docNumbers = all.slice(start, start + this.settings.maxSegmentDocs).filter((doc) => this.tailVectors.has(doc));
      const packer = new CsrPacker(docNumbers.length);
      for (const doc of docNumbers) {
        const vector = this.tailVectors.get(doc)!;
        packer.push(doc, vector.indices, vector.weights);
      }
      await this.buildAndInstall(packer.finish(), [], full);
    }
  }

  /** Merges the smallest segments whose live documents fit in one segment; false when none can. */
  private async mergeSmallest(full: DocumentView): Promise<boolean> {
    const bySize = [...this.segments].sort((a, b) => a.record.docCount - b.record.docCount);
    const chosen: LoadedSegment[] = [];
    let total = 0;
    for (const segment of bySize) {
      const live = segment.record.docCount - segment.deletedRows.size;
      if (chosen.length >= this.settings.mergeFactor || total + live > this.settings.maxSegmentDocs) break;
      chosen.push(segment);
      total += live;
    }
    if (chosen.length < 2) return false;
    const docs: number[] = [];
    for (const segment of chosen) {
      for (let row = 0; row < segment.docNumbers.length; row++) if (!segment.deletedRows.has(row)) docs.push(segment.docNumbers[row]!);
    }
    docs.sort((a, b) => a - b);
    // Merged documents are re-read from the store and weighed with today's statistics.
    const packer = new CsrPacker(docs.length);
    if (docs.length > 0) {
      full.averageLengths();
      let next = 0;
      for (const doc of this.store.iterateVectorsInRange(this.collectionId, docs[0]!, docs[docs.length - 1]!)) {
        while (next < docs.length && docs[next]! < doc.docNumber) next++;
        if (next === docs.length || docs[next] !== doc.docNumber || !full.isAlive(doc.docNumber)) continue;
        packer.push(doc.docNumber, doc.indices, full.documentWeights(doc.indices, doc.values, doc.fieldLengths));
      }
    }
    await this.buildAndInstall(packer.finish(), chosen, full);
    return true;
  }

  private async buildAndInstall(packed: PackedDocuments, replaced: LoadedSegment[], full: DocumentView): Promise<void> {
    const { docNumbers } = packed;
    const counters = new Int32Array(new SharedArrayBuffer(8));
    this.current = { kind: replaced.length > 0 ? 'merge' : 'build', documents: docNumbers.length, startedAt: Date.now(), counters };
    try {
      await this.buildInstallWith(packed, replaced, full, counters);
    } finally {
      this.current = undefined;
    }
  }

  private async buildInstallWith(packed: PackedDocuments, replaced: LoadedSegment[], full: DocumentView, counters: Int32Array): Promise<void> {
    const { docNumbers, indptr, indices, values, dim } = packed;
    const segmentId = this.nextSegmentId();
    const fileName = `seg-${String(segmentId).padStart(6, '0')}.seg`;
    const filePath = path.join(this.directory, fileName);
    const createdAt = new Date().toISOString();
    const job: SegmentBuildJob = {
      rows: docNumbers.length,
      dim,
      indptr,
      indices,
      values,
      docNumbers,
      params: this.settings.build,
      path: filePath,
      metadata: { ...this.metadataForBuild(), segmentId, createdAt },
      progress: counters,
    };
    const reply = await runBuildWorker(job);
    if (!reply.ok) throw new SparrowError(reply.code, `segment build failed: ${reply.message}`);
    if (this.closed) {
      fs.rmSync(filePath, { force: true });
      return;
    }
    const record: SegmentRecord = {
      segmentId,
      fileName,
      docCount: docNumbers.length,
      minDocNumber: docNumbers.length ? docNumbers[0]! : 0,
      maxDocNumber: docNumbers.length ? docNumbers[docNumbers.length - 1]! : 0,
      byteSize: reply.byteLength,
      createdAt,
    };
    // Recorded only after the file is complete and renamed into place (see index-format/README.md).
    this.store.replaceSegments(this.collectionId, record, replaced.map((s) => s.record.segmentId));
    // From here on everything is synchronous: searches see the old set or the new one, never a mix.
    for (const segment of replaced) {
      this.segments.splice(this.segments.indexOf(segment), 1);
      segment.searcher.dispose();
      this.threads.searchPool?.detach(segment.poolKey);
      fs.rmSync(path.join(this.directory, segment.record.fileName), { force: true });
    }
    this.install(record, full);
    for (const doc of docNumbers) {
      const vector = this.tailVectors.get(doc);
      if (!vector) continue;
      this.tailVectors.delete(doc);
      this.tail.remove(doc, vector.indices, new Uint32Array(0));
    }
  }

  /** Segment ids are never reused, not even those of files set aside as corrupt. */
  private nextSegmentId(): number {
    let max = this.store.nextSegmentId(this.collectionId) - 1;
    for (const name of fs.readdirSync(this.directory)) {
      const match = /^seg-(\d+)\.seg/.exec(name);
      if (match) max = Math.max(max, Number(match[1]));
    }
    return max + 1;
  }

  private install(record: SegmentRecord, full: DocumentView): void {
    // The file is read straight into the scorer's own memory: one read, no copy of the index.
    const core = new ScoringCore();
    const contents = readSegmentFileIntoSync(path.join(this.directory, record.fileName), (size) => {
      const at = core.allocate(size);
      return core.views().u8.subarray(at, at + size);
    });
    // A copy, taken first: the searcher's allocations may grow the memory and detach every view of it.
    const docNumbers = contents.docNumbers.slice();
    // decodeSegment has checked the checksums and the index's structure: no second pass here.
    const searcher = new WasmSeismicSearcher(contents.index, this.settings.query, {
      validate: false,
      core,
      ...(contents.knnNeighbors ? { knnNeighbors: contents.knnNeighbors } : {}),
    });
    const deletedRows = new RoaringBitmap32();
    for (let row = 0; row < docNumbers.length; row++) if (!full.isAlive(docNumbers[row]!)) deletedRows.add(row);
    const poolKey = `${this.collectionId}/${record.segmentId}/${++installedSegments}`;
    this.threads.searchPool?.attach(poolKey, searcher.memory, searcher.layout, this.settings.query);
    const segment: LoadedSegment = { record, poolKey, docNumbers, searcher, deletedRows, deletedWords: toWords(deletedRows, docNumbers.length) };
    this.segments.push(segment);
  }

  private segmentOf(docNumber: number): { segment: LoadedSegment; row: number } | undefined {
    for (const segment of this.segments) {
      if (docNumber < segment.record.minDocNumber || docNumber > segment.record.maxDocNumber) continue;
      const row = binarySearch(segment.docNumbers, docNumber);
      if (row >= 0) return { segment, row };
    }
    return undefined;
  }

  private excludedWithFilter(segment: LoadedSegment, allow: Bitmap): Uint32Array {
    const rows = segment.docNumbers.length;
    const words = new Uint32Array((rows + 31) >>> 5).fill(0xffffffff);
    // Walk the allowed doc numbers that fall inside this segment's range and clear their bits.
    const inRange = allow.rangeUint32Array(segment.record.minDocNumber, segment.record.maxDocNumber + 1);
    let row = 0;
    for (const doc of inRange) {
      while (row < rows && segment.docNumbers[row]! < doc) row++;
      if (row < rows && segment.docNumbers[row] === doc) words[row >>> 5]! &= ~(1 << (row & 31));
    }
    for (let w = 0; w < segment.deletedWords.length; w++) words[w]! |= segment.deletedWords[w]!;
    return words;
  }
}

function toWords(bitmap: Bitmap, rows: number): Uint32Array {
  const words = new Uint32Array((rows + 31) >>> 5);
  for (const row of bitmap) words[row >>> 5]! |= 1 << (row & 31);
  return words;
}

function binarySearch(sorted: Uint32Array, value: number): number {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === value) return mid;
    if (v < value) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

function runBuildWorker(job: SegmentBuildJob): Promise<SegmentBuildReply> {
  return new Promise((resolve) => {
    const worker = new Worker(new URL('./segment-build-worker.js', import.meta.url));
    let settled = false;
    worker.once('message', (reply: SegmentBuildReply) => {
      settled = true;
      resolve(reply);
      void worker.terminate();
    });
    worker.once('error', (error) => {
      if (!settled) resolve({ ok: false, code: 'SEGMENT_BUILD_FAILED', message: error.message });
    });
    worker.once('exit', (code) => {
      if (!settled) resolve({ ok: false, code: 'SEGMENT_BUILD_FAILED', message: `build worker exited with code ${code}` });
    });
    // Shared buffers are read in place; plain ones are handed over.
    const transfer = [job.indptr.buffer, job.indices.buffer, job.values.buffer].filter((buffer): buffer is ArrayBuffer => !(buffer instanceof SharedArrayBuffer));
    worker.postMessage(job, [...new Set(transfer)]);
  });
}

/** Rows a bulk packer starts with; it grows by half as documents come. */
const BULK_INITIAL_ROWS = 65_536;

/** Documents of one segment build, rows in doc-number order (CSR). */
interface PackedDocuments {
  readonly docNumbers: Uint32Array;
  readonly indptr: Uint32Array;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
  readonly dim: number;
}

/** Appends document vectors into growing CSR arrays: one copy per document, no per-document objects kept. */
class CsrPacker {
  rows = 0;
  private docNumbers: Uint32Array;
  private indptr: Uint32Array;
  private indices: Uint32Array;
  private values: Float32Array;
  private nnz = 0;
  private dim = 0;

  constructor(expectedRows: number) {
    this.docNumbers = new Uint32Array(Math.max(1, expectedRows));
    // Shared memory: the build worker and its threads read these arrays where they are.
    this.indptr = shared(Uint32Array, Math.max(1, expectedRows) + 1);
    // About 160 terms per learned-sparse document; grown when a collection has more.
    this.indices = shared(Uint32Array, Math.max(1024, expectedRows * 160));
    this.values = shared(Float32Array, this.indices.length);
  }

  push(docNumber: number, indices: Uint32Array, weights: Float32Array): void {
    if (this.rows === this.docNumbers.length) {
      this.docNumbers = grow(this.docNumbers, this.rows * 2);
      this.indptr = grow(this.indptr, this.rows * 2 + 1);
    }
    const needed = this.nnz + indices.length;
    if (needed > this.indices.length) {
      const size = Math.max(needed, Math.ceil(this.indices.length * 1.5));
      this.indices = grow(this.indices, size);
      this.values = grow(this.values, size);
    }
    this.indices.set(indices, this.nnz);
    this.values.set(weights, this.nnz);
    this.nnz = needed;
    if (indices.length > 0) this.dim = Math.max(this.dim, indices[indices.length - 1]! + 1);
    this.docNumbers[this.rows++] = docNumber;
    this.indptr[this.rows] = this.nnz;
  }

  finish(): PackedDocuments {
    // Views, not copies: the buffers are transferred to the build worker as they are.
    return {
      docNumbers: this.docNumbers.slice(0, this.rows),
      indptr: this.indptr.subarray(0, this.rows + 1),
      indices: this.indices.subarray(0, this.nnz),
      values: this.values.subarray(0, this.nnz),
      dim: this.dim,
    };
  }
}

function grow<T extends Uint32Array | Float32Array>(array: T, size: number): T {
  const grown = array.buffer instanceof SharedArrayBuffer ? shared(array.constructor as SharedType<T>, size) : new (array.constructor as new (length: number) => T)(size);
  grown.set(array as never);
  return grown;
}

type SharedType<T> = { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };

function shared<T>(Type: SharedType<T>, length: number): T {
  return new Type(new SharedArrayBuffer(length * Type.BYTES_PER_ELEMENT));
}
