import { Worker } from 'node:worker_threads';
import { defaultBuildThreads } from './build-parallel.js';
import { f16DecodeTable } from './f16.js';
import type { SeismicIndexData } from './index-data.js';
import { WasmSeismicSearcher, type CoreLayout } from './query-wasm.js';
import { NO_NEIGHBOR } from './search-api.js';

/** How each document searches the index for its neighbours: a cheap setting, the graph only refines. */
export const KNN_BUILD_QUERY = Object.freeze({ queryCut: 5, heapFactor: 0.9 });

/** Below this many documents one thread builds the graph: starting threads costs more. */
const PARALLEL_KNN_MIN_DOCS = 20_000;

/** The forward index as the graph builder reads it. */
type ForwardArrays = Pick<SeismicIndexData, 'forwardIndptr' | 'forwardTerms' | 'forwardValues' | 'forwardScales' | 'forwardOffsets'> & {
  readonly format: 'f32' | 'f16' | 'u8';
};

/**
 * Fills rows from .. to of the graph: each row's `neighbors` nearest rows by dot product, found
 * by searching the index with the row's stored vector (KNN_BUILD_QUERY), itself left out, best
 * first, NO_NEIGHBOR-padded.
 */
export function fillKnnRows(searcher: WasmSeismicSearcher, forward: ForwardArrays, graph: Uint32Array, neighbors: number, from: number, to: number): void {
  const { forwardIndptr, forwardTerms, forwardValues, forwardScales, forwardOffsets, format } = forward;
  const half = format === 'f16' ? f16DecodeTable() : undefined;
  let terms = new Uint32Array(64);
  let values = new Float32Array(64);
  for (let row = from; row < to; row++) {
    const start = forwardIndptr[row]!;
    const length = forwardIndptr[row + 1]! - start;
    if (length === 0) continue;
    if (length > terms.length) {
      terms = new Uint32Array(length * 2);
      values = new Float32Array(length * 2);
    }
    for (let i = 0; i < length; i++) {
      terms[i] = forwardTerms[start + i]!;
      const raw = forwardValues[start + i]!;
      values[i] = format === 'f32' ? raw : half ? half[raw]! : Math.fround(forwardOffsets[row]! + Math.fround(forwardScales[row]! * raw));
    }
    const found = searcher.search({ indices: terms.subarray(0, length), values: values.subarray(0, length) }, { k: neighbors + 1, ...KNN_BUILD_QUERY, knn: 0 });
    let kept = 0;
    for (let i = 0; i < found.docs.length && kept < neighbors; i++) {
      if (found.docs[i] === row) continue;
      graph[row * neighbors + kept++] = found.docs[i]!;
    }
  }
}

/** buildKnnGraph on the calling thread alone. */
export function buildKnnGraphSync(index: SeismicIndexData, neighbors: number): Uint32Array {
  const graph = new Uint32Array(index.docCount * neighbors).fill(NO_NEIGHBOR);
  if (neighbors === 0 || index.docCount === 0) return graph;
  const searcher = new WasmSeismicSearcher(index, {}, { validate: false });
  try {
    fillKnnRows(searcher, { ...index, format: index.params.forwardValues }, graph, neighbors, 0, index.docCount);
  } finally {
    searcher.dispose();
  }
  return graph;
}

/**
 * The kNN graph of a built index (Seismic's knn option), row-major, `neighbors` entries per row.
 * Each document is one approximate search (about 0.5 ms for a 160-term document at 1M documents),
 * so rows are split over `threads` threads: the index is placed once in a shared WebAssembly
 * memory and every thread searches it with its own scoring-core instance.
 */
export async function buildKnnGraph(
  index: SeismicIndexData,
  neighbors: number,
  threads = defaultBuildThreads(),
  parallelMinDocs = PARALLEL_KNN_MIN_DOCS,
): Promise<Uint32Array> {
  const rows = index.docCount;
  if (neighbors === 0 || threads <= 1 || rows < parallelMinDocs) return buildKnnGraphSync(index, neighbors);
  const searcher = new WasmSeismicSearcher(index, {}, { validate: false });
  try {
    const forward = { ...index, format: index.params.forwardValues };
    const shared = new Uint32Array(new SharedArrayBuffer(rows * neighbors * 4)).fill(NO_NEIGHBOR);
    const bounds = Array.from({ length: threads + 1 }, (_, i) => Math.round((rows * i) / threads));
    const helpers = bounds.slice(1, -1).map((from, i) => runKnnHelper(searcher.memory, searcher.layout, shared, neighbors, from, bounds[i + 2]!));
    // This thread takes the first range while the helpers do the rest.
    fillKnnRows(searcher, forward, shared, neighbors, 0, bounds[1]!);
    await Promise.all(helpers);
    return Uint32Array.from(shared);
  } finally {
    searcher.dispose();
  }
}

/** What a kNN helper thread is given: the shared index, its layout, the graph and its rows. */
export interface KnnHelperJob {
  readonly memory: WebAssembly.Memory;
  readonly layout: CoreLayout;
  readonly graph: Uint32Array;
  readonly neighbors: number;
  readonly from: number;
  readonly to: number;
}

function runKnnHelper(memory: WebAssembly.Memory, layout: CoreLayout, graph: Uint32Array, neighbors: number, from: number, to: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const job: KnnHelperJob = { memory, layout, graph, neighbors, from, to };
    const worker = new Worker(new URL('./knn-graph-worker.js', import.meta.url), { workerData: job });
    worker.once('message', (reply: { ok: boolean; message?: string }) => (reply.ok ? resolve() : reject(new Error(`kNN graph thread: ${reply.message}`))));
    worker.once('error', reject);
    worker.once('exit', (code) => code !== 0 && reject(new Error(`kNN graph thread exited with code ${code}`)));
  });
}

/** The forward arrays of a layout, as views of the shared memory (for helper threads). */
export function forwardArraysOf(memory: WebAssembly.Memory, layout: CoreLayout): ForwardArrays {
  const buffer = memory.buffer;
  const { at, docCount, forwardEntries, termBytes, valueFormat } = layout;
  return {
    format: valueFormat,
    forwardIndptr: new Uint32Array(buffer, at.forwardIndptr!, docCount + 1),
    forwardTerms: termBytes === 4 ? new Uint32Array(buffer, at.forwardTerms!, forwardEntries) : new Uint16Array(buffer, at.forwardTerms!, forwardEntries),
    forwardValues:
      valueFormat === 'f32'
        ? new Float32Array(buffer, at.forwardValues!, forwardEntries)
        : valueFormat === 'f16'
          ? new Uint16Array(buffer, at.forwardValues!, forwardEntries)
          : new Uint8Array(buffer, at.forwardValues!, forwardEntries),
    forwardScales: new Float32Array(buffer, at.forwardScales!, valueFormat === 'u8' ? docCount : 0),
    forwardOffsets: new Float32Array(buffer, at.forwardOffsets!, valueFormat === 'u8' ? docCount : 0),
  };
}
