import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SparseMatrix } from '../sparse-matrix.js';
import {
  allocateDocumentOutputs,
  assembleIndex,
  blockTermRange,
  buildPostingLists,
  kernelInputBytes,
  maxCentroidsFor,
  BUILD_POSTINGS_TOTAL,
  concatBlocked,
  fillDocumentOutputs,
  prepareBuild,
  validateMatrix,
  type BlockedLists,
  type DocumentOutputs,
  type PreparedBuild,
} from './build.js';
import { allocateScratch, BuildKernels, buildKernelModule, BuildMemory, scratchBytes, type KernelScratch, type ScratchShape } from './build-kernels.js';
import { SeismicError, type SeismicErrorCode } from './errors.js';
import type { SeismicIndexData } from './index-data.js';
import { resolveBuildParams, type SeismicBuildParams } from './params.js';

/** Below this many documents a build takes well under a second: threads would cost more than they save. */
const PARALLEL_MIN_DOCS = 5000;

/** A term range for a helper thread, over arrays it shares with the calling thread. */
export interface RangeJob {
  readonly kind: 'lists';
  readonly prepared: Omit<PreparedBuild, 'forward'>;
  readonly from: number;
  readonly to: number;
  readonly progress?: Int32Array;
  /** The build memory and this thread's scratch in it, when the build runs the wasm kernels. */
  readonly kernels?: { readonly memory: WebAssembly.Memory; readonly scratch: KernelScratch };
}

/** A range of documents whose per-document outputs a helper thread fills (see DocumentOutputs). */
export interface DocumentRangeJob {
  readonly kind: 'documents';
  readonly docs: SparseMatrix;
  readonly params: SeismicBuildParams;
  readonly outputs: DocumentOutputs;
  readonly from: number;
  readonly to: number;
}

/**
 * buildSeismicIndex on several threads: the documents are put in shared memory once; helper
 * threads derive the per-document arrays (forward index, clustering and summary cuts) of later
 * document ranges while this thread does the first range and inverts the lists; then each thread
 * blocks and summarizes a range of terms holding about the same number of postings, and the
 * ranges are joined in term order. Every list draws its centroids from its own seeded stream, so
 * the index is byte-identical to the one-thread build.
 */
export async function buildSeismicIndexParallel(
  docs: SparseMatrix,
  overrides: Partial<SeismicBuildParams> = {},
  threads = defaultBuildThreads(),
  progress?: Int32Array,
): Promise<SeismicIndexData> {
  const params = resolveBuildParams(overrides);
  if (threads <= 1 || docs.rows < PARALLEL_MIN_DOCS) {
    const prepared = prepareBuild(docs, params);
    if (progress) Atomics.store(progress, BUILD_POSTINGS_TOTAL, prepared.lists.start[docs.dim]!);
    return assembleIndex(prepared, blockTermRange(prepared, 0, docs.dim, progress));
  }
  validateMatrix(docs);
  const sharedDocs = { rows: docs.rows, dim: docs.dim, indptr: toShared(docs.indptr), indices: toShared(docs.indices), values: toShared(docs.values) };
  const layout = kernelLayout(sharedDocs, params, threads);
  const outputs = allocateDocumentOutputs(sharedDocs, params, layout?.memory);
  const documentRanges = splitDocuments(sharedDocs.indptr, sharedDocs.rows, threads);
  const documentHelpers = documentRanges
    .slice(1)
    .map(([from, to]) => runHelper<null>({ kind: 'documents', docs: sharedDocs, params, outputs, from, to }));
  let lists;
  try {
    fillDocumentOutputs(sharedDocs, params, outputs, documentRanges[0]![0], documentRanges[0]![1]);
    lists = buildPostingLists(sharedDocs, params);
  } finally {
    // A helper still writing into the shared arrays must finish (or fail) before anything returns.
    await Promise.allSettled(documentHelpers);
  }
  await Promise.all(documentHelpers);
  if (progress) Atomics.store(progress, BUILD_POSTINGS_TOTAL, lists.start[docs.dim]!);
  const prepared: PreparedBuild = { params, docs: sharedDocs, lists, cuts: outputs.cuts, summarySource: outputs.summarySource, forward: outputs.forward };
  const shared: Omit<PreparedBuild, 'forward'> = { params, docs: sharedDocs, lists, cuts: outputs.cuts, summarySource: outputs.summarySource };
  const ranges = splitByPostings(lists.start, docs.dim, threads);
  const scratches = layout ? ranges.map(() => allocateScratch(layout.memory, layout.shape)) : [];
  // This thread takes the first range while the helpers take the others.
  const helpers = ranges.slice(1).map(([from, to], i) =>
    runHelper<BlockedLists>({
      kind: 'lists',
      prepared: shared,
      from,
      to,
      ...(progress ? { progress } : {}),
      ...(layout ? { kernels: { memory: layout.memory.memory, scratch: scratches[i + 1]! } } : {}),
    }),
  );
  let first: BlockedLists;
  try {
    const kernels = layout ? new BuildKernels(layout.module, layout.memory.memory, scratches[0]!) : undefined;
    first = blockTermRange({ ...shared, forward: undefined }, ranges[0]![0], ranges[0]![1], progress, kernels);
  } finally {
    await Promise.allSettled(helpers);
  }
  return assembleIndex(prepared, concatBlocked([first, ...(await Promise.all(helpers))], docs.dim));
}

/**
 * Where the build kernels' inputs and every thread's scratch go: one shared memory sized for the
 * clustering cuts, the summary source and `threads` scratch regions (whose list and centroid sizes
 * are bounded by the pruning caps). Undefined when the kernels were not built or the layout would
 * not fit in wasm32's 4 GiB: the TypeScript loops run instead.
 */
function kernelLayout(docs: SparseMatrix, params: SeismicBuildParams, threads: number): { module: WebAssembly.Module; memory: BuildMemory; shape: ScratchShape } | undefined {
  const module = buildKernelModule();
  if (!module) return undefined;
  const { bytes, longestSummaryRow } = kernelInputBytes(docs, params);
  const listCap = params.pruning === 'global' ? Math.ceil(params.globalListCapFactor * params.postingCap) : params.postingCap;
  const longestList = Math.max(1, Math.min(docs.rows, listCap));
  const maxCentroids = maxCentroidsFor(longestList, params);
  const shape: ScratchShape = { dim: docs.dim, longestList, maxCentroids, maxEntries: Math.max(1, maxCentroids * longestSummaryRow) };
  const memory = BuildMemory.create(bytes + threads * scratchBytes(shape));
  return memory ? { module, memory, shape } : undefined;
}

/**
 * Consecutive document ranges of about equal nonzeros, the first (this thread's) half the size of
 * the others: this thread inverts the lists after its range.
 */
export function splitDocuments(indptr: Uint32Array, rows: number, parts: number): [number, number][] {
  return splitPrefixSums(indptr, rows, [0.5, ...Array.from({ length: parts - 1 }, () => 1)], true);
}

/**
 * Consecutive ranges of [0, count) whose totals (prefix[to] - prefix[from]) follow `shares`; the
 * last range ends at count. Empty ranges are kept (one per share) or dropped.
 */
function splitPrefixSums(prefix: Uint32Array, count: number, shares: readonly number[], keepEmpty: boolean): [number, number][] {
  const total = prefix[count]!;
  const sum = shares.reduce((a, b) => a + b, 0);
  const ranges: [number, number][] = [];
  let from = 0;
  let reached = 0;
  shares.forEach((share, p) => {
    reached += share;
    let to = from;
    if (p === shares.length - 1) to = count;
    else {
      const target = (total * reached) / sum;
      while (to < count && prefix[to]! < target) to++;
    }
    if (keepEmpty || to > from || p === shares.length - 1) ranges.push([from, to]);
    from = to;
  });
  return ranges;
}

/** One thread per core, at most four (a build reads memory more than it computes). */
export function defaultBuildThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** Consecutive term ranges with about equal numbers of kept postings. */
export function splitByPostings(listStart: Uint32Array, dim: number, parts: number): [number, number][] {
  return splitPrefixSums(listStart, dim, Array.from({ length: parts }, () => 1), false);
}

function toShared<T extends Uint32Array | Float32Array>(array: T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const Type = array.constructor as { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const copy = new Type(new SharedArrayBuffer(array.length * Type.BYTES_PER_ELEMENT));
  copy.set(array as never);
  return copy;
}

function runHelper<T>(job: RangeJob | DocumentRangeJob): Promise<T> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./build-range-worker.js', import.meta.url));
    let settled = false;
    worker.once('message', (reply: { ok: true; result: T } | { ok: false; code: string; message: string }) => {
      settled = true;
      if (reply.ok) resolve(reply.result);
      else reject(new SeismicError(reply.code as SeismicErrorCode, reply.message));
      void worker.terminate();
    });
    worker.once('error', (error) => {
      if (!settled) reject(new SeismicError('SEISMIC_BUILD_THREAD_FAILED', `a build thread failed: ${error.message}`));
      settled = true;
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new SeismicError('SEISMIC_BUILD_THREAD_FAILED', `a build thread exited with code ${code}`));
      settled = true;
    });
    worker.postMessage(job);
  });
}
