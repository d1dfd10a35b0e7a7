import { parentPort } from 'node:worker_threads';
import { buildSeismicIndexParallel } from '../index/seismic/build-parallel.js';
import { buildKnnGraph } from '../index/seismic/knn-graph.js';
import type { SeismicBuildParams } from '../index/seismic/params.js';
import { writeSegmentFile, type SegmentMetadata } from '../index/segment/segment-file.js';
import { buildErrorCode } from './build-error-code.js';

/** One build: the documents (CSR, rows in doc-number order) and where the segment file goes. */
export interface SegmentBuildJob {
  readonly rows: number;
  readonly dim: number;
  readonly indptr: Uint32Array;
  readonly indices: Uint32Array;
  readonly values: Float32Array;
  readonly docNumbers: Uint32Array;
  readonly params: Partial<SeismicBuildParams>;
  readonly path: string;
  readonly metadata: SegmentMetadata;
  /** Shared progress counters (see BUILD_POSTINGS_DONE in index/seismic/build.ts). */
  readonly progress?: Int32Array;
}

export type SegmentBuildReply =
  | { readonly ok: true; readonly byteLength: number; readonly buildMs: number }
  | { readonly ok: false; readonly code: string; readonly message: string };

// Building clusters every posting list and can take seconds: it runs here, off the thread that
// answers searches, and hands back only the finished file's size.
parentPort?.once('message', (job: SegmentBuildJob) => {
  const started = performance.now();
  (async (): Promise<SegmentBuildReply> => {
    const index = await buildSeismicIndexParallel(
      { rows: job.rows, dim: job.dim, indptr: job.indptr, indices: job.indices, values: job.values },
      job.params,
      undefined,
      job.progress,
    );
    // The kNN graph (index.build.knnNeighbors) is searched out of the finished index.
    const knnNeighbors = index.params.knnNeighbors > 0 ? await buildKnnGraph(index, index.params.knnNeighbors) : undefined;
    const info = await writeSegmentFile(job.path, { index, docNumbers: job.docNumbers, metadata: job.metadata, ...(knnNeighbors ? { knnNeighbors } : {}) });
    return { ok: true, byteLength: info.byteLength, buildMs: performance.now() - started };
  })()
    .catch((error: unknown): SegmentBuildReply => ({ ok: false, code: buildErrorCode(error), message: (error as Error).message }))
    .then((reply) => parentPort!.postMessage(reply));
});
