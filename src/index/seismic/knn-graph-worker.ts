import { parentPort, workerData } from 'node:worker_threads';
import { fillKnnRows, forwardArraysOf, type KnnHelperJob } from './knn-graph.js';
import { WasmSeismicSearcher } from './query-wasm.js';

// A helper of buildKnnGraph: searches the shared index for the neighbours of its range of rows.
const job = workerData as KnnHelperJob;
try {
  const searcher = WasmSeismicSearcher.attach(job.memory, job.layout);
  fillKnnRows(searcher, forwardArraysOf(job.memory, job.layout), job.graph, job.neighbors, job.from, job.to);
  parentPort!.postMessage({ ok: true });
} catch (error) {
  parentPort!.postMessage({ ok: false, message: (error as Error).message });
}
