import type { SparseVector } from '../sparse-matrix.js';
import { f16DecodeTable } from './f16.js';
import { validateIndexData, type SeismicIndexData } from './index-data.js';
import { DEFAULT_QUERY_PARAMS, resolveQueryParams, type SeismicQueryParams } from './params.js';
import { EMPTY_RESULT, knnOption, NO_NEIGHBOR, queryCutOrder, validateQuery, type SearchOptions, type SearchResult, type SeismicSearcher } from './search-api.js';
import type { SearchStats } from './query-wasm.js';
import { TopKHeap } from './top-k.js';

const fround = Math.fround;

/**
 * The query algorithm in plain TypeScript. It performs the same f32 operations in the same order
 * as the wasm core, so both return bit-identical results; it is kept as the readable reference
 * and as the baseline of the speed comparison.
 */
export class TsSeismicSearcher implements SeismicSearcher {
  readonly kind = 'ts' as const;
  readonly docCount: number;
  readonly dim: number;
  private readonly index: SeismicIndexData;
  private readonly defaults: SeismicQueryParams;
  private readonly denseQuery: Float32Array;
  private readonly visited: Uint32Array;
  private readonly heap = new TopKHeap();
  private order = new Uint32Array(64);
  private blockScores = new Float32Array(64);
  private blockOrder = new Uint32Array(64);
  /** Forward weights widened to f32 ('f16' decodes through a table, 'u8' through scale/offset). */
  private readonly halfTable: Float32Array | undefined;
  private readonly stats: SearchStats = { listsVisited: 0, blocksScored: 0, blocksSkipped: 0, docsScored: 0 };

  /** kNN graph: row d's neighbours are knnNeighbors[d × knnStored ..], NO_NEIGHBOR-padded. */
  private readonly knnNeighbors: Uint32Array;
  private readonly knnStored: number;

  constructor(index: SeismicIndexData, defaults: Partial<SeismicQueryParams> = {}, options: { validate?: boolean; knnNeighbors?: Uint32Array } = {}) {
    if (options.validate !== false) validateIndexData(index);
    this.index = index;
    this.docCount = index.docCount;
    this.dim = index.dim;
    this.defaults = { ...DEFAULT_QUERY_PARAMS, ...defaults };
    resolveQueryParams({}, this.defaults);
    this.denseQuery = new Float32Array(index.dim);
    this.visited = new Uint32Array((index.docCount + 31) >>> 5);
    this.halfTable = index.params.forwardValues === 'f16' ? f16DecodeTable() : undefined;
    this.knnNeighbors = options.knnNeighbors ?? new Uint32Array(0);
    this.knnStored = index.docCount > 0 ? this.knnNeighbors.length / index.docCount : 0;
  }

  search(query: SparseVector, options: SearchOptions = {}): SearchResult {
    validateQuery(query, this.dim);
    const { k, queryCut, heapFactor } = resolveQueryParams(options, this.defaults);
    const stats = this.stats;
    stats.listsVisited = stats.blocksScored = stats.blocksSkipped = stats.docsScored = 0;
    if (k === 0 || this.docCount === 0 || query.indices.length === 0) return EMPTY_RESULT;
    const index = this.index;
    const excluded = options.excluded;
    const excludedWords = excluded === undefined ? 0 : excluded.length;
    const { denseQuery, visited, heap } = this;
    const queryTerms = query.indices;
    const queryValues = query.values;
    const queryLength = queryTerms.length;
    for (let i = 0; i < queryLength; i++) denseQuery[queryTerms[i]!] = queryValues[i]!;
    if (this.order.length < queryLength) this.order = new Uint32Array(queryLength);
    const order = this.order;
    const listsVisited = queryCutOrder(queryValues, queryCut, order);
    heap.reset(Math.min(k, this.docCount));

    const { listBlockStart } = index;
    for (let l = 0; l < listsVisited; l++) {
      const term = queryTerms[order[l]!]!;
      const firstBlock = listBlockStart[term]!;
      const blockCount = listBlockStart[term + 1]! - firstBlock;
      if (blockCount === 0) continue;
      stats.listsVisited++;
      if (heapFactor <= 0) {
        // Nothing is ever skipped: no summaries needed, natural order.
        for (let b = firstBlock; b < firstBlock + blockCount; b++) this.scoreBlock(b, excluded, excludedWords);
        stats.blocksScored += blockCount;
        continue;
      }
      // Blocks are visited best summary first (ties: lower block first), so the heap fills with
      // strong documents early and the first block below the threshold ends the list.
      if (this.blockScores.length < blockCount) {
        this.blockScores = new Float32Array(blockCount);
        this.blockOrder = new Uint32Array(blockCount);
      }
      const blockScores = this.blockScores;
      const blockOrder = this.blockOrder;
      for (let b = 0; b < blockCount; b++) {
        blockScores[b] = this.summaryScore(firstBlock + b);
        blockOrder[b] = b;
      }
      blockOrder.subarray(0, blockCount).sort((a, b) => blockScores[b]! - blockScores[a]! || a - b);
      for (let position = 0; position < blockCount; position++) {
        const b = blockOrder[position]!;
        if (heap.full && blockScores[b]! < fround(heapFactor * heap.kthScore)) {
          stats.blocksSkipped += blockCount - position;
          break;
        }
        stats.blocksScored++;
        this.scoreBlock(firstBlock + b, excluded, excludedWords);
      }
    }

    const perResult = Math.min(knnOption(options.knn), this.knnStored);
    if (perResult > 0) {
      // The final set does not depend on the order seeds are taken in: a shared neighbour is
      // scored once either way, and the heap keeps the same best k.
      for (const seed of heap.heldDocs()) {
        for (let n = 0; n < perResult; n++) {
          const doc = this.knnNeighbors[seed * this.knnStored + n]!;
          if (doc === NO_NEIGHBOR) break;
          if (!this.claim(doc, excluded, excludedWords)) continue;
          stats.docsScored++;
          // A neighbour that shares no term with the query scores 0: it is no result.
          const score = this.scoreDocument(doc);
          if (score > 0) heap.offer(score, doc);
        }
      }
    }

    for (let i = 0; i < queryLength; i++) denseQuery[queryTerms[i]!] = 0;
    visited.fill(0);
    return heap.drain();
  }

  /** Scores the unvisited, undeleted documents of a block into the heap. */
  private scoreBlock(block: number, excluded: Uint32Array | undefined, excludedWords: number): void {
    const { blockDocStart, postingDocs } = this.index;
    const { heap, stats } = this;
    const postingEnd = blockDocStart[block + 1]!;
    for (let p = blockDocStart[block]!; p < postingEnd; p++) {
      const doc = postingDocs[p]!;
      if (!this.claim(doc, excluded, excludedWords)) continue;
      stats.docsScored++;
      heap.offer(this.scoreDocument(doc), doc);
    }
  }

  /** Marks a document visited; true when it was not visited before and is not excluded (so it is scored). */
  private claim(doc: number, excluded: Uint32Array | undefined, excludedWords: number): boolean {
    const visited = this.visited;
    const word = doc >>> 5;
    const bit = 1 << (doc & 31);
    if ((visited[word]! & bit) !== 0) return false;
    visited[word] = visited[word]! | bit;
    return !(word < excludedWords && (excluded![word]! & bit) !== 0);
  }

  /**
   * Block summary against the dense query: offset_b × Σ q + scale_b × Σ q·level over the summary's
   * entries, each sum over four interleaved lanes combined as (l0 + l1) + (l2 + l3).
   */
  private summaryScore(block: number): number {
    const { summaryStart, summaryTerms, summaryValues } = this.index;
    const denseQuery = this.denseQuery;
    const start = summaryStart[block]!;
    const end = summaryStart[block + 1]!;
    let w0 = 0;
    let w1 = 0;
    let w2 = 0;
    let w3 = 0;
    let v0 = 0;
    let v1 = 0;
    let v2 = 0;
    let v3 = 0;
    let i = start;
    for (const end4 = start + ((end - start) & ~3); i < end4; i += 4) {
      const q0 = denseQuery[summaryTerms[i]!]!;
      const q1 = denseQuery[summaryTerms[i + 1]!]!;
      const q2 = denseQuery[summaryTerms[i + 2]!]!;
      const q3 = denseQuery[summaryTerms[i + 3]!]!;
      w0 = fround(w0 + q0);
      w1 = fround(w1 + q1);
      w2 = fround(w2 + q2);
      w3 = fround(w3 + q3);
      v0 = fround(v0 + fround(q0 * summaryValues[i]!));
      v1 = fround(v1 + fround(q1 * summaryValues[i + 1]!));
      v2 = fround(v2 + fround(q2 * summaryValues[i + 2]!));
      v3 = fround(v3 + fround(q3 * summaryValues[i + 3]!));
    }
    if (i < end) {
      const q = denseQuery[summaryTerms[i]!]!;
      w0 = fround(w0 + q);
      v0 = fround(v0 + fround(q * summaryValues[i]!));
    }
    if (i + 1 < end) {
      const q = denseQuery[summaryTerms[i + 1]!]!;
      w1 = fround(w1 + q);
      v1 = fround(v1 + fround(q * summaryValues[i + 1]!));
    }
    if (i + 2 < end) {
      const q = denseQuery[summaryTerms[i + 2]!]!;
      w2 = fround(w2 + q);
      v2 = fround(v2 + fround(q * summaryValues[i + 2]!));
    }
    const weightSum = fround(fround(w0 + w1) + fround(w2 + w3));
    const weighted = fround(fround(v0 + v1) + fround(v2 + v3));
    return fround(fround(this.index.summaryOffset[block]! * weightSum) + fround(this.index.summaryScale[block]! * weighted));
  }

  /**
   * Exact dot product with the dense query. Four interleaved f32 accumulators (entry i of the
   * document goes to accumulator i mod 4), combined as (a0 + a1) + (a2 + a3): the wasm core's
   * SIMD lanes.
   */
  private scoreDocument(doc: number): number {
    const index = this.index;
    const denseQuery = this.denseQuery;
    const terms = index.forwardTerms;
    const start = index.forwardIndptr[doc]!;
    const end = index.forwardIndptr[doc + 1]!;
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    const format = index.params.forwardValues;
    if (format === 'f32') {
      const values = index.forwardValues as Float32Array;
      let i = start;
      for (const end4 = start + ((end - start) & ~3); i < end4; i += 4) {
        a0 = fround(a0 + fround(denseQuery[terms[i]!]! * values[i]!));
        a1 = fround(a1 + fround(denseQuery[terms[i + 1]!]! * values[i + 1]!));
        a2 = fround(a2 + fround(denseQuery[terms[i + 2]!]! * values[i + 2]!));
        a3 = fround(a3 + fround(denseQuery[terms[i + 3]!]! * values[i + 3]!));
      }
      if (i < end) a0 = fround(a0 + fround(denseQuery[terms[i]!]! * values[i]!));
      if (i + 1 < end) a1 = fround(a1 + fround(denseQuery[terms[i + 1]!]! * values[i + 1]!));
      if (i + 2 < end) a2 = fround(a2 + fround(denseQuery[terms[i + 2]!]! * values[i + 2]!));
    } else if (format === 'f16') {
      const values = index.forwardValues as Uint16Array;
      const table = this.halfTable!;
      let i = start;
      for (const end4 = start + ((end - start) & ~3); i < end4; i += 4) {
        a0 = fround(a0 + fround(denseQuery[terms[i]!]! * table[values[i]!]!));
        a1 = fround(a1 + fround(denseQuery[terms[i + 1]!]! * table[values[i + 1]!]!));
        a2 = fround(a2 + fround(denseQuery[terms[i + 2]!]! * table[values[i + 2]!]!));
        a3 = fround(a3 + fround(denseQuery[terms[i + 3]!]! * table[values[i + 3]!]!));
      }
      if (i < end) a0 = fround(a0 + fround(denseQuery[terms[i]!]! * table[values[i]!]!));
      if (i + 1 < end) a1 = fround(a1 + fround(denseQuery[terms[i + 1]!]! * table[values[i + 1]!]!));
      if (i + 2 < end) a2 = fround(a2 + fround(denseQuery[terms[i + 2]!]! * table[values[i + 2]!]!));
    } else {
      const values = index.forwardValues as Uint8Array;
      const scale = index.forwardScales[doc]!;
      const offset = index.forwardOffsets[doc]!;
      const weight = (i: number): number => fround(offset + fround(scale * values[i]!));
      let i = start;
      for (const end4 = start + ((end - start) & ~3); i < end4; i += 4) {
        a0 = fround(a0 + fround(denseQuery[terms[i]!]! * weight(i)));
        a1 = fround(a1 + fround(denseQuery[terms[i + 1]!]! * weight(i + 1)));
        a2 = fround(a2 + fround(denseQuery[terms[i + 2]!]! * weight(i + 2)));
        a3 = fround(a3 + fround(denseQuery[terms[i + 3]!]! * weight(i + 3)));
      }
      if (i < end) a0 = fround(a0 + fround(denseQuery[terms[i]!]! * weight(i)));
      if (i + 1 < end) a1 = fround(a1 + fround(denseQuery[terms[i + 1]!]! * weight(i + 1)));
      if (i + 2 < end) a2 = fround(a2 + fround(denseQuery[terms[i + 2]!]! * weight(i + 2)));
    }
    return fround(fround(a0 + a1) + fround(a2 + a3));
  }

  /** Work counters of the last search. */
  lastStats(): SearchStats {
    return { ...this.stats };
  }

  dispose(): void {}
}
