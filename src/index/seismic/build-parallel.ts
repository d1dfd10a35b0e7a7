import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { SparseMatrix } from '../sparse-matrix.js';
import { assembleIndex, blockTermRange, BUILD_POSTINGS_TOTAL, concatBlocked, prepareBuild, type BlockedLists, type PreparedBuild } from './build.js';
import { SeismicError, type SeismicErrorCode } from './errors.js';
import type { SeismicIndexData } from './index-data.js';
import { resolveBuildParams, type SeismicBuildParams } from './params.js';

/** Below this many documents a build takes well under a second: threads would cost more than they save. */
const PARALLEL_MIN_DOCS = 5000;

/** A term range for a helper thread, over arrays it shares with the calling thread. */
export interface RangeJob {
  readonly prepared: Omit<PreparedBuild, 'forward'>;
  readonly from: number;
  readonly to: number;
  readonly progress?: Int32Array;
}

/**
 * buildSeismicIndex on several threads: the documents, pruned lists and clustering cuts are put in
 * shared memory once, each thread blocks and summarizes a range of terms holding about the same
 * number of postings, and the ranges are joined in term order. Every list draws its centroids from
 * its own seeded stream, so the index is byte-identical to the one-thread build.
 */
export async function buildSeismicIndexParallel(
  docs: SparseMatrix,
  overrides: Partial<SeismicBuildParams> = {},
  threads = defaultBuildThreads(),
  progress?: Int32Array,
): Promise<SeismicIndexData> {
  const prepared = prepareBuild(docs, resolveBuildParams(overrides));
  if (progress) Atomics.store(progress, BUILD_POSTINGS_TOTAL, prepared.lists.start[docs.dim]!);
  if (threads <= 1 || docs.rows < PARALLEL_MIN_DOCS) return assembleIndex(prepared, blockTermRange(prepared, 0, docs.dim, progress));
  const sharedDocs = { rows: docs.rows, dim: docs.dim, indptr: toShared(docs.indptr), indices: toShared(docs.indices), values: toShared(docs.values) };
  const summary = prepared.summarySource;
  const shared: Omit<PreparedBuild, 'forward'> = {
    params: prepared.params,
    docs: sharedDocs,
    summarySource:
      summary === docs
        ? sharedDocs
        : { rows: summary.rows, dim: summary.dim, indptr: toShared(summary.indptr), indices: toShared(summary.indices), values: toShared(summary.values) },
    lists: { start: toShared(prepared.lists.start), docs: toShared(prepared.lists.docs), values: toShared(prepared.lists.values) },
    cuts: { cut: prepared.cuts.cut, length: toShared(prepared.cuts.length), terms: toShared(prepared.cuts.terms), values: toShared(prepared.cuts.values) },
  };
  const ranges = splitByPostings(prepared.lists.start, docs.dim, threads);
  // This thread takes the first range while the helpers take the others.
  const helpers = ranges.slice(1).map(([from, to]) => runRangeWorker({ prepared: shared, from, to, ...(progress ? { progress } : {}) }));
  const parts: BlockedLists[] = [blockTermRange({ ...shared, forward: undefined }, ranges[0]![0], ranges[0]![1], progress)];
  parts.push(...(await Promise.all(helpers)));
  return assembleIndex(prepared, concatBlocked(parts, docs.dim));
}

/** One thread per core, at most four (a build reads memory more than it computes). */
export function defaultBuildThreads(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/** Consecutive term ranges with about equal numbers of kept postings. */
export function splitByPostings(listStart: Uint32Array, dim: number, parts: number): [number, number][] {
  const total = listStart[dim]!;
  const ranges: [number, number][] = [];
  let from = 0;
  for (let p = 1; p <= parts; p++) {
    let to = from;
    if (p === parts) to = dim;
    else {
      const target = (total * p) / parts;
      while (to < dim && listStart[to]! < target) to++;
    }
    if (to > from || p === parts) ranges.push([from, to]);
    from = to;
  }
  return ranges;
}

function toShared<T extends Uint32Array | Float32Array>(array: T): T {
  if (array.buffer instanceof SharedArrayBuffer) return array;
  const Type = array.constructor as { new (buffer: SharedArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const copy = new Type(new SharedArrayBuffer(array.length * Type.BYTES_PER_ELEMENT));
  copy.set(array as never);
  return copy;
}

function runRangeWorker(job: RangeJob): Promise<BlockedLists> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./build-range-worker.js', import.meta.url));
    let settled = false;
    worker.once('message', (reply: { ok: true; blocked: BlockedLists } | { ok: false; code: string; message: string }) => {
      settled = true;
      if (reply.ok) resolve(reply.blocked);
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
