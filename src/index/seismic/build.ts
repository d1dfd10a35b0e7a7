import type { SparseMatrix } from '../sparse-matrix.js';
import { SeismicError } from './errors.js';
import { f32ToF16Bits, F16_MAX } from './f16.js';
import type { SeismicIndexData, TermIdArray } from './index-data.js';
import { resolveBuildParams, UNCAPPED, type ForwardValueFormat, type SeismicBuildParams } from './params.js';
import { SeededRandom } from '../../common/random.js';
import { alignedBytes, type BuildKernels, type BuildMemory } from './build-kernels.js';
import { energyThreshold, kthLargest, kthLargestUnordered, type EnergyCut } from './select.js';

/**
 * Clustering a list costs (list length × centroids); past this many centroids, blocks just get
 * larger. Only unpruned lists of very large collections come near it (0.1 × 40k documents).
 */
const MAX_CENTROIDS_PER_LIST = 4096;

/**
 * Builds the approximate index over docs (row = document number). Deterministic: the same matrix
 * and params give identical arrays.
 */
export function buildSeismicIndex(docs: SparseMatrix, overrides: Partial<SeismicBuildParams> = {}): SeismicIndexData {
  const prepared = prepareBuild(docs, resolveBuildParams(overrides));
  return assembleIndex(prepared, blockTermRange(prepared, 0, docs.dim));
}

/**
 * What every posting list's blocking reads: the documents, the pruned lists and each document's
 * clustering cut. Lists are blocked independently of each other, so term ranges can be blocked
 * on separate threads over one shared copy of this (see build-parallel.ts).
 */
export interface PreparedBuild {
  readonly params: SeismicBuildParams;
  readonly docs: SparseMatrix;
  readonly lists: PostingLists;
  readonly cuts: ClusteringCuts;
  /** What block summaries read: each document's summaryDocCut heaviest components (or docs itself). */
  readonly summarySource: SparseMatrix;
  readonly forward: ForwardIndex | undefined;
}

export function prepareBuild(docs: SparseMatrix, params: SeismicBuildParams): PreparedBuild {
  validateMatrix(docs);
  const outputs = allocateDocumentOutputs(docs, params);
  fillDocumentOutputs(docs, params, outputs, 0, docs.rows);
  const lists = buildPostingLists(docs, params);
  return { params, docs, lists, cuts: outputs.cuts, summarySource: outputs.summarySource, forward: outputs.forward };
}

/**
 * What a build derives from each document alone: its forward-index row, its clustering cut and its
 * summary components. Rows are written at offsets fixed at allocation, so ranges of documents can
 * be filled on separate threads (the arrays are shared).
 */
export interface DocumentOutputs {
  readonly forward: ForwardIndex;
  readonly cuts: ClusteringCuts;
  /** docs itself when no row is longer than summaryDocCut. */
  readonly summarySource: SparseMatrix;
}

/**
 * With `memory`, the arrays the build kernels read (clustering cuts, summary source) are placed in
 * it, and the summary source is always a copy there, even when it holds every component.
 */
export function allocateDocumentOutputs(docs: SparseMatrix, params: SeismicBuildParams, memory?: BuildMemory): DocumentOutputs {
  return {
    forward: allocateForwardIndex(docs, params.forwardValues),
    cuts: allocateClusteringCuts(docs, params.clusterDocCut, memory),
    summarySource: allocateHeaviestComponents(docs, params.summaryDocCut, memory),
  };
}

/** The bytes allocateDocumentOutputs takes from a BuildMemory, and the longest summary row. */
export function kernelInputBytes(docs: SparseMatrix, params: SeismicBuildParams): { bytes: number; longestSummaryRow: number } {
  const { rows, indptr } = docs;
  let longest = 0;
  let kept = 0;
  for (let d = 0; d < rows; d++) {
    const length = indptr[d + 1]! - indptr[d]!;
    if (length > longest) longest = length;
    kept += Math.min(length, params.summaryDocCut);
  }
  const width = Math.max(1, Math.min(params.clusterDocCut, longest));
  const bytes = alignedBytes(rows + 1, 4) + alignedBytes(kept, 4) * 2 + alignedBytes(rows, 4) + alignedBytes(rows * width, 4) * 2;
  return { bytes, longestSummaryRow: Math.min(longest, params.summaryDocCut) };
}

/** Fills rows [from, to) of outputs (see DocumentOutputs). */
export function fillDocumentOutputs(docs: SparseMatrix, params: SeismicBuildParams, outputs: DocumentOutputs, from: number, to: number): void {
  fillForwardIndex(docs, params.forwardValues, outputs.forward, from, to);
  fillClusteringCuts(docs, outputs.cuts, from, to);
  if (outputs.summarySource !== docs) fillHeaviestComponents(docs, params.summaryDocCut, outputs.summarySource, from, to);
}

/** The posting lists, pruned as params say. */
export function buildPostingLists(docs: SparseMatrix, params: SeismicBuildParams): PostingLists {
  if (params.pruning === 'global') return invertPrunedGlobally(docs, params.postingCap, params.globalListCapFactor);
  const lists = invert(docs);
  pruneEachList(lists, params.postingCap);
  return lists;
}

export function assembleIndex(prepared: PreparedBuild, blocked: BlockedLists): SeismicIndexData {
  const { docs, params } = prepared;
  const forward = prepared.forward ?? buildForwardIndex(docs, params.forwardValues);
  return {
    formatVersion: 1,
    params,
    docCount: docs.rows,
    dim: docs.dim,
    forwardIndptr: forward.indptr,
    forwardTerms: forward.terms,
    forwardValues: forward.values,
    forwardScales: forward.scales,
    forwardOffsets: forward.offsets,
    listBlockStart: blocked.listBlockStart,
    blockDocStart: blocked.blockDocStart,
    postingDocs: blocked.postingDocs,
    summaryStart: blocked.summaryStart,
    summaryTerms: blocked.summaryTerms,
    summaryValues: blocked.summaryValues,
    summaryScale: blocked.summaryScale,
    summaryOffset: blocked.summaryOffset,
  };
}

/**
 * Where a build stands, shared between threads: [BUILD_POSTINGS_DONE] postings blocked so far,
 * [BUILD_POSTINGS_TOTAL] postings kept after pruning (0 until known).
 */
export const BUILD_POSTINGS_DONE = 0;
export const BUILD_POSTINGS_TOTAL = 1;

/** Blocks and summarizes the lists of terms [from, to); offsets start at 0 (see concatBlocked). */
export function blockTermRange(prepared: PreparedBuild, from: number, to: number, progress?: Int32Array, kernels?: BuildKernels): BlockedLists {
  const builder = new BlockBuilder(prepared.docs, prepared.summarySource, prepared.lists, prepared.cuts, prepared.params, from, to, kernels);
  const start = prepared.lists.start;
  let unreported = 0;
  for (let t = from; t < to; t++) {
    builder.addList(t);
    if (progress) {
      unreported += start[t + 1]! - start[t]!;
      // One atomic add per ~64k postings keeps the counter cheap and still smooth.
      if (unreported >= 65536 || t === to - 1) {
        Atomics.add(progress, BUILD_POSTINGS_DONE, unreported);
        unreported = 0;
      }
    }
  }
  return builder.finish();
}

/** Joins the blocked lists of consecutive term ranges into those of their union. */
export function concatBlocked(parts: readonly BlockedLists[], dim: number): BlockedLists {
  if (parts.length === 1) return parts[0]!;
  const total = (pick: (part: BlockedLists) => { length: number }, overlap: number): number =>
    parts.reduce((sum, part) => sum + pick(part).length - overlap, overlap);
  const listBlockStart = new Uint32Array(dim + 1);
  const blockDocStart = new Uint32Array(total((p) => p.blockDocStart, 1));
  const summaryStart = new Uint32Array(total((p) => p.summaryStart, 1));
  const postingDocs = new Uint32Array(total((p) => p.postingDocs, 0));
  const summaryTerms = (dim > 65536 ? new Uint32Array(total((p) => p.summaryTerms, 0)) : new Uint16Array(total((p) => p.summaryTerms, 0))) as TermIdArray;
  const summaryValues = new Uint8Array(total((p) => p.summaryValues, 0));
  const summaryScale = new Float32Array(total((p) => p.summaryScale, 0));
  const summaryOffset = new Float32Array(total((p) => p.summaryOffset, 0));
  let terms = 0;
  let blocks = 0;
  let postings = 0;
  let entries = 0;
  for (const part of parts) {
    const partTerms = part.listBlockStart.length - 1;
    for (let t = 1; t <= partTerms; t++) listBlockStart[terms + t] = part.listBlockStart[t]! + blocks;
    const partBlocks = part.blockDocStart.length - 1;
    for (let b = 1; b <= partBlocks; b++) {
      blockDocStart[blocks + b] = part.blockDocStart[b]! + postings;
      summaryStart[blocks + b] = part.summaryStart[b]! + entries;
    }
    postingDocs.set(part.postingDocs, postings);
    summaryTerms.set(part.summaryTerms, entries);
    summaryValues.set(part.summaryValues, entries);
    summaryScale.set(part.summaryScale, blocks);
    summaryOffset.set(part.summaryOffset, blocks);
    terms += partTerms;
    blocks += partBlocks;
    postings += part.postingDocs.length;
    entries += part.summaryTerms.length;
  }
  return { listBlockStart, blockDocStart, postingDocs, summaryStart, summaryTerms, summaryValues, summaryScale, summaryOffset };
}

/**
 * What the blocking threads read is allocated shared from the start: a parallel build then hands it
 * to its threads without a copy (at a million documents each copy is about a gigabyte).
 */
function sharedUint32(length: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(length * 4));
}

function sharedFloat32(length: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(length * 4));
}

function sharedUint16(length: number): Uint16Array {
  return new Uint16Array(new SharedArrayBuffer(length * 2));
}

function sharedUint8(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}

function badMatrix(message: string): never {
  throw new SeismicError('SEISMIC_BAD_MATRIX', message);
}

/** The whole SparseMatrix contract, checked once, since the scorers trust it blindly. */
export function validateMatrix(docs: SparseMatrix): void {
  const { rows, dim, indptr, indices, values } = docs;
  if (!Number.isInteger(rows) || rows < 0 || rows > 0xfffffffe) badMatrix(`rows must be an integer in [0, 2^32-2], got ${rows}`);
  if (!Number.isInteger(dim) || dim < 0 || dim > 0xffffffff) badMatrix(`dim must be an integer in [0, 2^32-1], got ${dim}`);
  if (indptr.length !== rows + 1) badMatrix(`indptr has length ${indptr.length}, expected ${rows + 1}`);
  if (indptr[0] !== 0) badMatrix('indptr[0] must be 0');
  if (indices.length !== values.length) badMatrix('indices and values differ in length');
  if (indptr[rows] !== indices.length) badMatrix(`indptr[rows] = ${indptr[rows]} but there are ${indices.length} nonzeros`);
  for (let r = 0; r < rows; r++) {
    const start = indptr[r]!;
    const end = indptr[r + 1]!;
    if (end < start) badMatrix(`indptr decreases at row ${r}`);
    let previous = -1;
    for (let i = start; i < end; i++) {
      const term = indices[i]!;
      if (term >= dim) badMatrix(`row ${r} has term ${term} >= dim ${dim}`);
      if (term <= previous) badMatrix(`row ${r} term ids are not strictly increasing`);
      previous = term;
      if (!Number.isFinite(values[i]!)) badMatrix(`row ${r} has a non-finite weight`);
    }
  }
}

export interface ForwardIndex {
  indptr: Uint32Array;
  terms: TermIdArray;
  values: Float32Array | Uint16Array | Uint8Array;
  scales: Float32Array;
  offsets: Float32Array;
}

function allocateForwardIndex(docs: SparseMatrix, format: ForwardValueFormat): ForwardIndex {
  const nnz = docs.indices.length;
  const terms: TermIdArray = docs.dim > 65536 ? sharedUint32(nnz) : sharedUint16(nnz);
  const indptr = sharedUint32(docs.rows + 1);
  indptr.set(docs.indptr);
  if (format === 'f32') return { indptr, terms, values: sharedFloat32(nnz), scales: new Float32Array(0), offsets: new Float32Array(0) };
  if (format === 'f16') return { indptr, terms, values: sharedUint16(nnz), scales: new Float32Array(0), offsets: new Float32Array(0) };
  return { indptr, terms, values: sharedUint8(nnz), scales: sharedFloat32(docs.rows), offsets: sharedFloat32(docs.rows) };
}

function fillForwardIndex(docs: SparseMatrix, format: ForwardValueFormat, forward: ForwardIndex, from: number, to: number): void {
  const first = docs.indptr[from]!;
  const last = docs.indptr[to]!;
  forward.terms.set(docs.indices.subarray(first, last), first);
  if (format === 'f32') {
    (forward.values as Float32Array).set(docs.values.subarray(first, last), first);
    return;
  }
  if (format === 'f16') {
    const values = forward.values as Uint16Array;
    for (let i = first; i < last; i++) {
      const value = docs.values[i]!;
      values[i] = f32ToF16Bits(value > F16_MAX ? F16_MAX : value < -F16_MAX ? -F16_MAX : value);
    }
    return;
  }
  const values = forward.values as Uint8Array;
  const { scales, offsets } = forward;
  for (let d = from; d < to; d++) {
    const start = docs.indptr[d]!;
    const end = docs.indptr[d + 1]!;
    if (end === start) continue;
    let min = Infinity;
    let max = -Infinity;
    for (let i = start; i < end; i++) {
      const value = docs.values[i]!;
      if (value < min) min = value;
      if (value > max) max = value;
    }
    const scale = Math.fround((max - min) / 255);
    offsets[d] = min;
    scales[d] = scale;
    for (let i = start; i < end; i++) {
      values[i] = scale > 0 ? Math.min(255, Math.round((docs.values[i]! - min) / scale)) : 0;
    }
  }
}

function buildForwardIndex(docs: SparseMatrix, format: ForwardValueFormat): ForwardIndex {
  const forward = allocateForwardIndex(docs, format);
  fillForwardIndex(docs, format, forward, 0, docs.rows);
  return forward;
}

/** Term-major copy of the collection; lists are pruned in place (start moves, arrays are reused). */
export interface PostingLists {
  start: Uint32Array;
  docs: Uint32Array;
  values: Float32Array;
}

function invert(docs: SparseMatrix): PostingLists {
  const { rows, dim, indptr, indices, values } = docs;
  const nnz = indices.length;
  const start = sharedUint32(dim + 1);
  for (let i = 0; i < nnz; i++) start[indices[i]! + 1]!++;
  for (let t = 0; t < dim; t++) start[t + 1]! += start[t]!;
  const cursor = start.slice(0, dim);
  const listDocs = sharedUint32(nnz);
  const listValues = sharedFloat32(nnz);
  for (let d = 0; d < rows; d++) {
    for (let i = indptr[d]!; i < indptr[d + 1]!; i++) {
      const slot = cursor[indices[i]!]!++;
      listDocs[slot] = d;
      listValues[slot] = values[i]!;
    }
  }
  return { start, docs: listDocs, values: listValues };
}

/**
 * Writes the `cap` largest values of [start, end) (ties: the earlier first) with their keys to
 * out* from `write` on, in their original order; returns the new write position. `out` may be the
 * input itself when write <= start (the copy only moves entries backwards).
 */
function keepLargest(
  keys: Uint32Array,
  values: Float32Array,
  start: number,
  end: number,
  cap: number,
  outKeys: Uint32Array,
  outValues: Float32Array,
  write: number,
  scratch: Float32Array,
): number {
  const length = end - start;
  if (length <= cap) {
    if (outKeys === keys) {
      if (write !== start) {
        keys.copyWithin(write, start, end);
        values.copyWithin(write, start, end);
      }
    } else {
      outKeys.set(keys.subarray(start, end), write);
      outValues.set(values.subarray(start, end), write);
    }
    return write + length;
  }
  scratch.set(values.subarray(start, end));
  const threshold = kthLargest(scratch, length, cap);
  let greater = 0;
  for (let i = start; i < end; i++) if (values[i]! > threshold) greater++;
  let tiesAllowed = cap - greater;
  for (let i = start; i < end; i++) {
    const value = values[i]!;
    if (value > threshold || (value === threshold && tiesAllowed-- > 0)) {
      outKeys[write] = keys[i]!;
      outValues[write] = value;
      write++;
    }
  }
  return write;
}

/** Keeps each list's cap largest weights (ties: lower document first), preserving document order. */
function pruneEachList(lists: PostingLists, cap: number): void {
  if (cap >= UNCAPPED) return;
  const { start, docs, values } = lists;
  const dim = start.length - 1;
  let longest = 0;
  for (let t = 0; t < dim; t++) longest = Math.max(longest, start[t + 1]! - start[t]!);
  const scratch = new Float32Array(Math.max(longest, 1));
  let write = 0;
  let listStart = 0;
  for (let t = 0; t < dim; t++) {
    const listEnd = start[t + 1]!;
    write = keepLargest(docs, values, listStart, listEnd, cap, docs, values, write, scratch);
    listStart = listEnd;
    start[t + 1] = write;
  }
}

/**
 * The lists the slow way: invert every entry, then prune. buildPostingLists must give exactly these
 * (the tests compare the two).
 */
export function postingListsByFullInversion(docs: SparseMatrix, params: SeismicBuildParams): PostingLists {
  const lists = invert(docs);
  if (params.pruning === 'global') pruneGlobally(lists, params.postingCap, params.globalListCapFactor);
  else pruneEachList(lists, params.postingCap);
  return lists;
}

/**
 * invert then pruneGlobally, without inverting what the global threshold drops: the threshold is
 * found from the document-major weights, and only entries above it are written into lists (at a
 * million documents, a seventh of them). Ties at the threshold are admitted in term order, then
 * document order, as pruneGlobally admits them, so the lists are identical.
 */
function invertPrunedGlobally(docs: SparseMatrix, postingCap: number, listCapFactor: number): PostingLists {
  const { rows, dim, indptr, indices, values } = docs;
  const nnz = indices.length;
  const listCap = Math.min(UNCAPPED, Math.ceil(listCapFactor * postingCap));
  const start = sharedUint32(dim + 1);
  for (let i = 0; i < nnz; i++) start[indices[i]! + 1]!++;
  let nonEmpty = 0;
  for (let t = 1; t <= dim; t++) if (start[t]! > 0) nonEmpty++;
  const budget = postingCap * nonEmpty;
  if (postingCap >= UNCAPPED || budget >= nnz) {
    const lists = invert(docs);
    if (postingCap < UNCAPPED) pruneEachList(lists, listCap);
    return lists;
  }
  const threshold = kthLargestUnordered(values, nnz, budget);
  // start[t + 1] counts term t's entries above the threshold, ties[t] its entries equal to it.
  start.fill(0);
  const ties = new Uint32Array(dim);
  let greater = 0;
  for (let i = 0; i < nnz; i++) {
    const value = values[i]!;
    if (value > threshold) {
      start[indices[i]! + 1]!++;
      greater++;
    } else if (value === threshold) ties[indices[i]!]!++;
  }
  let tiesAllowed = budget - greater;
  for (let t = 0; t < dim; t++) {
    const admitted = Math.min(ties[t]!, tiesAllowed);
    ties[t] = admitted;
    tiesAllowed -= admitted;
    start[t + 1] = start[t + 1]! + admitted + start[t]!;
  }
  const kept = start[dim]!;
  const cursor = start.slice(0, dim);
  const listDocs = sharedUint32(kept);
  const listValues = sharedFloat32(kept);
  for (let d = 0; d < rows; d++) {
    const end = indptr[d + 1]!;
    for (let i = indptr[d]!; i < end; i++) {
      const value = values[i]!;
      if (value < threshold) continue;
      const term = indices[i]!;
      if (value === threshold) {
        if (ties[term] === 0) continue;
        ties[term]!--;
      }
      const slot = cursor[term]!++;
      listDocs[slot] = d;
      listValues[slot] = value;
    }
  }
  const lists = { start, docs: listDocs, values: listValues };
  pruneEachList(lists, listCap);
  return lists;
}

/**
 * One weight threshold for the whole collection (keeping postingCap × non-empty lists entries),
 * then a per-list ceiling of globalListCapFactor × postingCap.
 */
function pruneGlobally(lists: PostingLists, postingCap: number, listCapFactor: number): void {
  const { start, docs, values } = lists;
  const dim = start.length - 1;
  const nnz = start[dim]!;
  if (postingCap >= UNCAPPED) return;
  let nonEmpty = 0;
  for (let t = 0; t < dim; t++) if (start[t + 1]! > start[t]!) nonEmpty++;
  const budget = postingCap * nonEmpty;
  if (budget < nnz) {
    const threshold = kthLargest(new Float32Array(values.subarray(0, nnz)), nnz, budget);
    let greater = 0;
    for (let i = 0; i < nnz; i++) if (values[i]! > threshold) greater++;
    let tiesAllowed = budget - greater;
    let write = 0;
    let listStart = 0;
    for (let t = 0; t < dim; t++) {
      const listEnd = start[t + 1]!;
      for (let i = listStart; i < listEnd; i++) {
        const value = values[i]!;
        if (value > threshold || (value === threshold && tiesAllowed-- > 0)) {
          docs[write] = docs[i]!;
          values[write] = value;
          write++;
        }
      }
      listStart = listEnd;
      start[t + 1] = write;
    }
  }
  pruneEachList(lists, Math.min(UNCAPPED, Math.ceil(listCapFactor * postingCap)));
}

/**
 * Room for each row's `cut` largest components (ties: lower term first), in term order; the row
 * offsets are final. Returns docs itself when no row is longer than cut.
 */
function allocateHeaviestComponents(docs: SparseMatrix, cut: number, memory?: BuildMemory): SparseMatrix {
  const { rows, indptr } = docs;
  let longest = 0;
  for (let d = 0; d < rows; d++) longest = Math.max(longest, indptr[d + 1]! - indptr[d]!);
  if (longest <= cut && !memory) return docs;
  const outIndptr = memory ? memory.uint32(rows + 1) : sharedUint32(rows + 1);
  outIndptr[0] = 0;
  let kept = 0;
  for (let d = 0; d < rows; d++) {
    kept += Math.min(indptr[d + 1]! - indptr[d]!, cut);
    outIndptr[d + 1] = kept;
  }
  return { rows, dim: docs.dim, indptr: outIndptr, indices: memory ? memory.uint32(kept) : sharedUint32(kept), values: memory ? memory.float32(kept) : sharedFloat32(kept) };
}

function fillHeaviestComponents(docs: SparseMatrix, cut: number, out: SparseMatrix, from: number, to: number): void {
  const { indptr, indices, values } = docs;
  let longest = 0;
  for (let d = from; d < to; d++) longest = Math.max(longest, indptr[d + 1]! - indptr[d]!);
  const scratch = new Float32Array(Math.max(longest, 1));
  for (let d = from; d < to; d++) keepLargest(indices, values, indptr[d]!, indptr[d + 1]!, cut, out.indices, out.values, out.indptr[d]!, scratch);
}

/** Each row's `cut` largest components (ties: lower term first), in term order (docs itself when no row is longer). */
export function heaviestComponents(docs: SparseMatrix, cut: number): SparseMatrix {
  const out = allocateHeaviestComponents(docs, cut);
  if (out !== docs) fillHeaviestComponents(docs, cut, out, 0, docs.rows);
  return out;
}

/** True when no weight is negative or -0 (whose sign bit would read as "untouched"). */
function allNonNegative(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (!(value > 0) && !(value === 0 && 1 / value > 0)) return false;
  }
  return true;
}

/** Each document's clusterDocCut largest components (ties: lower term first). */
export interface ClusteringCuts {
  cut: number;
  length: Uint32Array;
  terms: Uint32Array;
  values: Float32Array;
}

function allocateClusteringCuts(docs: SparseMatrix, cut: number, memory?: BuildMemory): ClusteringCuts {
  const { rows, indptr } = docs;
  let longestRow = 0;
  for (let d = 0; d < rows; d++) longestRow = Math.max(longestRow, indptr[d + 1]! - indptr[d]!);
  const width = Math.max(1, Math.min(cut, longestRow));
  if (memory) return { cut: width, length: memory.uint32(rows), terms: memory.uint32(rows * width), values: memory.float32(rows * width) };
  return { cut: width, length: sharedUint32(rows), terms: sharedUint32(rows * width), values: sharedFloat32(rows * width) };
}

function fillClusteringCuts(docs: SparseMatrix, cuts: ClusteringCuts, from: number, to: number): void {
  const { indptr, indices, values } = docs;
  const { cut: width, length, terms: cutTerms, values: cutValues } = cuts;
  for (let d = from; d < to; d++) {
    const base = d * width;
    let kept = 0;
    for (let i = indptr[d]!; i < indptr[d + 1]!; i++) {
      const value = values[i]!;
      // Kept entries are in descending value order; equal values keep term order (terms ascend).
      if (kept === width && !(value > cutValues[base + kept - 1]!)) continue;
      let slot = kept < width ? kept++ : kept - 1;
      while (slot > 0 && cutValues[base + slot - 1]! < value) {
        cutValues[base + slot] = cutValues[base + slot - 1]!;
        cutTerms[base + slot] = cutTerms[base + slot - 1]!;
        slot--;
      }
      cutValues[base + slot] = value;
      cutTerms[base + slot] = indices[i]!;
    }
    length[d] = kept;
  }
}

/** Centroids of the longest list: what the clustering scratch must hold. */
export function maxCentroidsFor(longestList: number, params: SeismicBuildParams): number {
  return Math.min(MAX_CENTROIDS_PER_LIST, Math.max(1, Math.ceil(params.blockFraction * longestList)));
}

/** Append-only typed array. */
class GrowableArray<T extends Uint32Array | Uint16Array | Uint8Array | Float32Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (size: number) => T, initial: number) {
    this.data = make(Math.max(16, initial));
  }
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.data.length) return;
    const next = this.make(Math.max(needed, Math.ceil(this.data.length * 1.5)));
    next.set(this.data.subarray(0, this.length) as never);
    this.data = next;
  }
  push(value: number): void {
    if (this.length === this.data.length) this.reserve(1);
    this.data[this.length++] = value;
  }
  toArray(): T {
    return this.data.slice(0, this.length) as T;
  }
  /** An array that cannot grow past `data` (a view into the build kernels' memory). */
  static fixed<U extends Uint32Array | Uint16Array | Uint8Array | Float32Array>(data: U): GrowableArray<U> {
    return new GrowableArray<U>((size) => {
      if (size > data.length) throw new SeismicError('SEISMIC_BUILD_LAYOUT', `build kernel scratch holds ${data.length} entries, ${size} needed`);
      return data;
    }, data.length);
  }
}
export interface BlockedLists {
  listBlockStart: Uint32Array;
  blockDocStart: Uint32Array;
  postingDocs: Uint32Array;
  summaryStart: Uint32Array;
  summaryTerms: TermIdArray;
  summaryValues: Uint8Array;
  summaryScale: Float32Array;
  summaryOffset: Float32Array;
}

/**
 * Clusters pruned lists into blocks and writes each block's quantized summary. Scratch arrays are
 * sized once for the longest list of the range and the vocabulary, then reused for every list;
 * each step is its own small method so the JIT optimizes them separately.
 */
class BlockBuilder {
  private readonly docIndptr: Uint32Array;
  private readonly docTerms: Uint32Array;
  private readonly docValues: Float32Array;
  private readonly summaryIndptr: Uint32Array;
  private readonly summaryTermsIn: Uint32Array;
  private readonly summaryValuesIn: Float32Array;
  /** The summary source's weights as int32 bits, when all are non-negative (see blockMaximumBits). */
  private readonly summaryBits: Int32Array | undefined;
  private readonly listStart: Uint32Array;
  private readonly listDocs: Uint32Array;
  private readonly listValues: Float32Array;
  private random: SeededRandom;

  // Output.
  private readonly listBlockStart: Uint32Array;
  private readonly blockDocStart: GrowableArray<Uint32Array>;
  private readonly postingDocs: Uint32Array;
  private postingsWritten = 0;
  private readonly summaryStart: GrowableArray<Uint32Array>;
  private readonly summaryTerms: GrowableArray<Uint32Array>;
  private readonly summaryValues: GrowableArray<Uint8Array>;
  private readonly summaryScale: GrowableArray<Float32Array>;
  private readonly summaryOffset: GrowableArray<Float32Array>;

  // Clustering scratch.
  private readonly positions: Uint32Array;
  private readonly centroidDocs: Uint32Array;
  private readonly centroidScores: Float64Array;
  private readonly clusterSize: Uint32Array;
  private readonly clusterBlock: Int32Array;
  private readonly assignment: Uint32Array;
  private readonly centroidTermStart: Uint32Array;
  private readonly centroidTermEnd: Uint32Array;
  private readonly touchedTerms: Uint32Array;
  private readonly centroidEntryIndex: GrowableArray<Uint32Array>;
  private readonly centroidEntryValue: GrowableArray<Float32Array>;

  // Summary scratch: maxValue is -Infinity for every term outside the block being summarized.
  private readonly maxValue: Float32Array;
  /** The same memory as maxValue, as int32 bits. */
  private readonly maxBits: Int32Array;
  private readonly blockTerms: Uint32Array;
  private readonly keptTerms: Uint32Array;
  /** The block's maxima in blockTerms order, and the kept ones in keptTerms order. */
  private readonly blockValues: Float32Array;
  private readonly keptValues: Float32Array;
  private readonly energyScratch: Float32Array;
  private readonly energyCut: EnergyCut = { threshold: 0, tiesKept: 0 };

  constructor(
    docs: SparseMatrix,
    private readonly summarySource: SparseMatrix,
    lists: PostingLists,
    private readonly cuts: ClusteringCuts,
    private readonly params: SeismicBuildParams,
    private readonly fromTerm: number,
    toTerm: number,
    /** The wasm loops and their scratch views (build-kernels.ts); the TypeScript loops without. */
    private readonly kernels?: BuildKernels,
  ) {
    const dim = docs.dim;
    // Centroids are represented by their summaryDocCut heaviest components, like the summaries: at
    // 100k synthetic documents this took a quarter off the blocking time with recall@10 unchanged
    // (0.9966 and 0.9964 at the default query settings, 0.9758 and 0.9764 at queryCut 3).
    this.docIndptr = summarySource.indptr;
    this.docTerms = summarySource.indices;
    this.docValues = summarySource.values;
    this.summaryIndptr = summarySource.indptr;
    this.summaryTermsIn = summarySource.indices;
    this.summaryValuesIn = summarySource.values;
    this.summaryBits = allNonNegative(summarySource.values) ? new Int32Array(summarySource.values.buffer, summarySource.values.byteOffset, summarySource.values.length) : undefined;
    this.listStart = lists.start;
    this.listDocs = lists.docs;
    this.listValues = lists.values;
    this.random = new SeededRandom(params.seed);
    const kept = lists.start[toTerm]! - lists.start[fromTerm]!;
    let longest = 0;
    for (let t = fromTerm; t < toTerm; t++) longest = Math.max(longest, lists.start[t + 1]! - lists.start[t]!);

    const expectedBlocks = Math.ceil(kept * params.blockFraction) + (toTerm - fromTerm) + 1;
    this.listBlockStart = new Uint32Array(toTerm - fromTerm + 1);
    this.blockDocStart = new GrowableArray((n) => new Uint32Array(n), expectedBlocks);
    this.blockDocStart.push(0);
    this.postingDocs = new Uint32Array(kept);
    this.summaryStart = new GrowableArray((n) => new Uint32Array(n), expectedBlocks);
    this.summaryStart.push(0);
    this.summaryTerms = new GrowableArray((n) => (dim > 65536 ? new Uint32Array(n) : (new Uint16Array(n) as unknown as Uint32Array)), 1 << 20);
    this.summaryValues = new GrowableArray((n) => new Uint8Array(n), 1 << 20);
    this.summaryScale = new GrowableArray((n) => new Float32Array(n), expectedBlocks);
    this.summaryOffset = new GrowableArray((n) => new Float32Array(n), expectedBlocks);

    const maxCentroids = maxCentroidsFor(longest, params);
    this.positions = new Uint32Array(Math.max(longest, 1));
    this.centroidDocs = new Uint32Array(maxCentroids);
    this.clusterSize = new Uint32Array(maxCentroids);
    this.touchedTerms = new Uint32Array(dim);
    this.keptTerms = new Uint32Array(dim);
    this.keptValues = new Float32Array(dim);
    this.energyScratch = new Float32Array(dim);
    const scratch = kernels?.scratch;
    if (scratch) {
      // What the kernels read and write is in the shared memory; sizes were planned for this range.
      if (scratch.centroidScores.length < maxCentroids || scratch.assignment.length < longest || scratch.maxValue.length < dim) {
        throw new SeismicError('SEISMIC_BUILD_LAYOUT', 'build kernel scratch is smaller than the term range needs');
      }
      this.centroidScores = scratch.centroidScores;
      this.clusterBlock = scratch.clusterBlock;
      this.assignment = scratch.assignment;
      this.centroidTermStart = scratch.centroidTermStart;
      this.centroidTermEnd = scratch.centroidTermEnd;
      this.centroidEntryIndex = GrowableArray.fixed(scratch.entryIndex);
      this.centroidEntryValue = GrowableArray.fixed(scratch.entryValue);
      this.maxValue = scratch.maxValue;
      this.blockTerms = scratch.blockTerms;
      this.blockValues = scratch.blockValues;
    } else {
      this.centroidScores = new Float64Array(maxCentroids);
      this.clusterBlock = new Int32Array(maxCentroids);
      this.assignment = new Uint32Array(Math.max(longest, 1));
      this.centroidTermStart = new Uint32Array(dim);
      this.centroidTermEnd = new Uint32Array(dim);
      this.centroidEntryIndex = new GrowableArray((n) => new Uint32Array(n), 1 << 16);
      this.centroidEntryValue = new GrowableArray((n) => new Float32Array(n), 1 << 16);
      this.maxValue = new Float32Array(dim).fill(-Infinity);
      this.blockTerms = new Uint32Array(dim);
      this.blockValues = new Float32Array(dim);
    }
    this.maxBits = new Int32Array(this.maxValue.buffer, this.maxValue.byteOffset, this.maxValue.length);
  }

  addList(term: number): void {
    const first = this.listStart[term]!;
    const length = this.listStart[term + 1]! - first;
    let blockCount = 0;
    if (length > 0) {
      // One random stream per list: the index is the same whichever thread blocks which list.
      this.random = SeededRandom.forStream(this.params.seed, term);
      blockCount = this.cluster(term, first, length);
      const blockBase = this.writeBlocks(first, length, blockCount);
      for (let b = 0; b < blockCount; b++) this.summarizeBlock(this.blockDocStart.data[blockBase + b]!, this.blockDocStart.data[blockBase + b + 1]!);
    }
    const slot = term - this.fromTerm;
    this.listBlockStart[slot + 1] = this.listBlockStart[slot]! + blockCount;
  }

  /**
   * Assigns each document of the list to a block (this.assignment); returns the block count.
   * Centroids are distinct random members of the list; a document joins the centroid of largest
   * dot product; clusters below minBlockSize are dissolved into the next best survivor.
   */
  private cluster(term: number, first: number, length: number): number {
    const { params, assignment, clusterBlock, clusterSize } = this;
    let centroidCount = Math.min(MAX_CENTROIDS_PER_LIST, Math.max(1, Math.ceil(params.blockFraction * length)));
    if (length <= params.minBlockSize) centroidCount = 1;
    if (centroidCount === 1) {
      assignment.fill(0, 0, length);
      return 1;
    }
    this.sampleCentroids(first, length, centroidCount);
    const touchedCount = this.indexCentroids(centroidCount);
    clusterSize.fill(0, 0, centroidCount);
    clusterBlock.fill(0, 0, centroidCount);
    const kernels = this.kernels;
    if (kernels) {
      kernels.scratch.listDocs.set(this.listDocs.subarray(first, first + length));
      kernels.scratch.listValues.set(this.listValues.subarray(first, first + length));
      kernels.assignToCentroids(length, term, centroidCount, this.cuts, false);
      for (let p = 0; p < length; p++) clusterSize[assignment[p]!]!++;
    } else {
      for (let p = 0; p < length; p++) {
        const c = this.bestCentroid(term, first, p, centroidCount, false);
        assignment[p] = c;
        clusterSize[c]!++;
      }
    }
    let alive = 0;
    for (let c = 0; c < centroidCount; c++) clusterBlock[c] = clusterSize[c]! >= params.minBlockSize ? alive++ : -1;
    if (alive === 0) {
      assignment.fill(0, 0, length);
      alive = 1;
    } else {
      if (kernels) kernels.assignToCentroids(length, term, centroidCount, this.cuts, true);
      else {
        for (let p = 0; p < length; p++) {
          if (clusterBlock[assignment[p]!]! < 0) assignment[p] = this.bestCentroid(term, first, p, centroidCount, true);
        }
      }
      for (let p = 0; p < length; p++) assignment[p] = clusterBlock[assignment[p]!]!;
    }
    const { touchedTerms, centroidTermStart, centroidTermEnd } = this;
    for (let i = 0; i < touchedCount; i++) {
      const t = touchedTerms[i]!;
      centroidTermStart[t] = 0;
      centroidTermEnd[t] = 0;
    }
    return alive;
  }

  private sampleCentroids(first: number, length: number, centroidCount: number): void {
    const { positions, centroidDocs, listDocs, random } = this;
    for (let i = 0; i < length; i++) positions[i] = i;
    for (let c = 0; c < centroidCount; c++) {
      const pick = c + random.nextInt(length - c);
      const chosen = positions[pick]!;
      positions[pick] = positions[c]!;
      positions[c] = chosen;
      centroidDocs[c] = listDocs[first + chosen]!;
    }
  }

  /** Inverted index over the centroids' vectors (their summary components): term -> (centroid, weight). */
  private indexCentroids(centroidCount: number): number {
    const { centroidDocs, docIndptr, docTerms, docValues, centroidTermStart, centroidTermEnd, touchedTerms } = this;
    let touchedCount = 0;
    for (let c = 0; c < centroidCount; c++) {
      const d = centroidDocs[c]!;
      for (let i = docIndptr[d]!; i < docIndptr[d + 1]!; i++) {
        const t = docTerms[i]!;
        if (centroidTermEnd[t] === 0) touchedTerms[touchedCount++] = t;
        centroidTermEnd[t]!++;
      }
    }
    let running = 0;
    for (let i = 0; i < touchedCount; i++) {
      const t = touchedTerms[i]!;
      const count = centroidTermEnd[t]!;
      centroidTermStart[t] = running;
      centroidTermEnd[t] = running;
      running += count;
    }
    this.centroidEntryIndex.length = 0;
    this.centroidEntryValue.length = 0;
    this.centroidEntryIndex.reserve(running);
    this.centroidEntryValue.reserve(running);
    const entryIndex = this.centroidEntryIndex.data;
    const entryValue = this.centroidEntryValue.data;
    for (let c = 0; c < centroidCount; c++) {
      const d = centroidDocs[c]!;
      for (let i = docIndptr[d]!; i < docIndptr[d + 1]!; i++) {
        const slot = centroidTermEnd[docTerms[i]!]!++;
        entryIndex[slot] = c;
        entryValue[slot] = docValues[i]!;
      }
    }
    return touchedCount;
  }

  private bestCentroid(term: number, first: number, position: number, centroidCount: number, aliveOnly: boolean): number {
    const { centroidScores, centroidTermStart, centroidTermEnd, clusterBlock, cuts } = this;
    const entryIndex = this.centroidEntryIndex.data;
    const entryValue = this.centroidEntryValue.data;
    const cutTerms = cuts.terms;
    const cutValues = cuts.values;
    const d = this.listDocs[first + position]!;
    centroidScores.fill(0, 0, centroidCount);
    // The list's own term is shared with every centroid, so it always contributes; the
    // document's largest components carry the topical signal.
    let includesOwnTerm = false;
    const cutBase = d * cuts.cut;
    const cutEnd = cutBase + cuts.length[d]!;
    for (let i = cutBase; i < cutEnd; i++) {
      const t = cutTerms[i]!;
      if (t === term) includesOwnTerm = true;
      const weight = cutValues[i]!;
      const end = centroidTermEnd[t]!;
      for (let e = centroidTermStart[t]!; e < end; e++) centroidScores[entryIndex[e]!]! += weight * entryValue[e]!;
    }
    if (!includesOwnTerm) {
      const weight = this.listValues[first + position]!;
      const end = centroidTermEnd[term]!;
      for (let e = centroidTermStart[term]!; e < end; e++) centroidScores[entryIndex[e]!]! += weight * entryValue[e]!;
    }
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < centroidCount; c++) {
      if (aliveOnly && clusterBlock[c]! < 0) continue;
      if (centroidScores[c]! > bestScore) {
        bestScore = centroidScores[c]!;
        best = c;
      }
    }
    return best;
  }

  /** Counting sort of the list into its blocks (document order kept inside each block). */
  private writeBlocks(first: number, length: number, blockCount: number): number {
    const { assignment, postingDocs, listDocs } = this;
    const blockBase = this.blockDocStart.length - 1;
    this.blockDocStart.reserve(blockCount);
    const offsets = this.blockDocStart.data;
    const base = this.postingsWritten;
    for (let b = 1; b <= blockCount; b++) offsets[blockBase + b] = 0;
    for (let p = 0; p < length; p++) offsets[blockBase + 1 + assignment[p]!]!++;
    // Cumulative counts are block ends; filling from the back leaves block starts behind.
    offsets[blockBase + 1] = offsets[blockBase + 1]! + base;
    for (let b = 2; b <= blockCount; b++) offsets[blockBase + b] = offsets[blockBase + b]! + offsets[blockBase + b - 1]!;
    for (let p = length - 1; p >= 0; p--) {
      const slot = --offsets[blockBase + 1 + assignment[p]!]!;
      postingDocs[slot] = listDocs[first + p]!;
    }
    // offsets[blockBase + 1 + b] is now block b's start; shift left by one to store ends.
    for (let b = 1; b < blockCount; b++) offsets[blockBase + b] = offsets[blockBase + b + 1]!;
    offsets[blockBase + blockCount] = base + length;
    this.blockDocStart.length += blockCount;
    this.postingsWritten += length;
    return blockBase;
  }

  /** Coordinate-wise max of the block, cut to its energy prefix, quantized to 8 bits. */
  private summarizeBlock(postingStart: number, postingEnd: number): void {
    const { maxValue, blockTerms, keptTerms, keptValues, blockValues, params, kernels } = this;
    let termCount: number;
    let mass = 0;
    let largest = 0;
    if (kernels) {
      kernels.scratch.blockDocs.set(this.postingDocs.subarray(postingStart, postingEnd));
      termCount = kernels.blockMaximum(postingEnd - postingStart, this.summarySource);
      mass = kernels.blockMass;
      largest = kernels.blockLargest;
    } else {
      termCount = this.summaryBits ? this.blockMaximumBits(postingStart, postingEnd) : this.blockMaximum(postingStart, postingEnd);
      // One gather of the maxima (in blockTerms order) that also restores maxValue's -Infinity
      // marks; every later pass reads blockValues in order.
      for (let i = 0; i < termCount; i++) {
        const t = blockTerms[i]!;
        const value = maxValue[t]!;
        maxValue[t] = -Infinity;
        blockValues[i] = value;
        if (value > 0) mass += value;
        if (value > largest) largest = value;
      }
    }
    let threshold = -Infinity;
    let tiesKept = 0;
    if (params.summaryEnergy < 1) {
      const cut = energyThreshold(blockValues, termCount, params.summaryEnergy * mass, this.energyCut, this.energyScratch, largest);
      threshold = cut.threshold;
      tiesKept = cut.tiesKept;
    }
    if (kernels) {
      const kept = kernels.keepAndQuantize(termCount, threshold, tiesKept);
      this.summaryOffset.push(kernels.quantizedOffset);
      this.summaryScale.push(kernels.quantizedScale);
      this.summaryTerms.reserve(kept);
      this.summaryValues.reserve(kept);
      const at = this.summaryTerms.length;
      this.summaryTerms.data.set(kernels.scratch.keptTerms.subarray(0, kept), at);
      this.summaryValues.data.set(kernels.scratch.keptLevels.subarray(0, kept), at);
      this.summaryTerms.length = at + kept;
      this.summaryValues.length = at + kept;
      this.summaryStart.push(at + kept);
      return;
    }
    let low = Infinity;
    let high = -Infinity;
    let keptCount = 0;
    for (let i = 0; i < termCount; i++) {
      const value = blockValues[i]!;
      if (value > threshold || (value === threshold && tiesKept-- > 0)) {
        keptTerms[keptCount] = blockTerms[i]!;
        keptValues[keptCount++] = value;
        if (value < low) low = value;
        if (value > high) high = value;
      }
    }
    // Rounding up (and a scale nudged upwards) keeps decoded values >= the true maxima, so a
    // summary with energy 1 stays an upper bound of its block for non-negative queries.
    const offset = keptCount > 0 ? Math.fround(low) : 0;
    let scale = keptCount > 0 ? Math.fround(((high - low) / 255) * (1 + 1e-6)) : 0;
    if (scale > 0 && Math.fround(offset + Math.fround(scale * 255)) < high) scale = Math.fround(scale * (1 + 1e-5));
    this.summaryOffset.push(offset);
    this.summaryScale.push(scale);
    this.summaryTerms.reserve(keptCount);
    this.summaryValues.reserve(keptCount);
    const summaryTerms = this.summaryTerms.data;
    const summaryValues = this.summaryValues.data;
    let at = this.summaryTerms.length;
    for (let i = 0; i < keptCount; i++) {
      const value = keptValues[i]!;
      let level = scale > 0 ? Math.ceil((value - offset) / scale) : 0;
      if (level < 0) level = 0;
      while (level < 255 && Math.fround(offset + Math.fround(scale * level)) < value) level++;
      if (level > 255) level = 255;
      summaryTerms[at] = keptTerms[i]!;
      summaryValues[at] = level;
      at++;
    }
    this.summaryTerms.length = at;
    this.summaryValues.length = at;
    this.summaryStart.push(at);
  }

  /** Coordinate-wise maximum of the block's documents into maxValue; returns the terms it touched. */
  private blockMaximum(postingStart: number, postingEnd: number): number {
    const { postingDocs, maxValue, blockTerms } = this;
    const docIndptr = this.summaryIndptr;
    const docTerms = this.summaryTermsIn;
    const docValues = this.summaryValuesIn;
    let termCount = 0;
    for (let p = postingStart; p < postingEnd; p++) {
      const d = postingDocs[p]!;
      const end = docIndptr[d + 1]!;
      for (let i = docIndptr[d]!; i < end; i++) {
        const t = docTerms[i]!;
        const value = docValues[i]!;
        const current = maxValue[t]!;
        if (current === -Infinity) blockTerms[termCount++] = t;
        if (value > current) maxValue[t] = value;
      }
    }
    return termCount;
  }

  /**
   * blockMaximum for non-negative weights, without branches: the bits of non-negative floats
   * order as integers, and -Infinity's bits (the "untouched" mark) are negative as an int32. A
   * block's documents share terms, so "is this larger" is a coin flip the branch predictor loses,
   * and it was most of the build's time.
   */
  private blockMaximumBits(postingStart: number, postingEnd: number): number {
    const { postingDocs, maxBits, blockTerms } = this;
    const docIndptr = this.summaryIndptr;
    const docTerms = this.summaryTermsIn;
    const docBits = this.summaryBits!;
    let termCount = 0;
    for (let p = postingStart; p < postingEnd; p++) {
      const d = postingDocs[p]!;
      const end = docIndptr[d + 1]!;
      for (let i = docIndptr[d]!; i < end; i++) {
        const t = docTerms[i]!;
        const current = maxBits[t]!;
        blockTerms[termCount] = t;
        termCount += current >>> 31;
        const difference = (current - docBits[i]!) | 0;
        maxBits[t] = current - (difference & (difference >> 31));
      }
    }
    return termCount;
  }

  finish(): BlockedLists {
    return {
      listBlockStart: this.listBlockStart,
      blockDocStart: this.blockDocStart.toArray(),
      postingDocs: this.postingDocs,
      summaryStart: this.summaryStart.toArray(),
      summaryTerms: this.summaryTerms.toArray() as TermIdArray,
      summaryValues: this.summaryValues.toArray(),
      summaryScale: this.summaryScale.toArray(),
      summaryOffset: this.summaryOffset.toArray(),
    };
  }
}
