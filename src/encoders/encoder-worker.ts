import { parentPort, workerData } from 'node:worker_threads';
import { encodeDocuments, errorOf } from './encode.js';
import type { SparseEncoder } from './encoder.js';
import { createEncoder } from './registry.js';
import type { WorkerReply, WorkerRequest } from './worker-pool.js';

/**
 * One encoding worker: builds the encoder from its stored configuration, loads it, then answers
 * batches (encodeDocuments: a failing batch is retried document by document).
 */
async function main(): Promise<void> {
  const port = parentPort!;
  let encoder: SparseEncoder;
  try {
    encoder = createEncoder(workerData.config as Record<string, unknown>);
    await encoder.load?.();
  } catch (error) {
    port.postMessage({ type: 'failed', error: errorOf(error) } satisfies WorkerReply);
    return;
  }
  port.on('message', (request: WorkerRequest) => {
    if (request.type === 'close') {
      void Promise.resolve(encoder.dispose?.()).finally(() => port.close());
      return;
    }
    void encodeDocuments(encoder, request.documents).then((results) => port.postMessage({ type: 'encoded', id: request.id, results } satisfies WorkerReply));
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

void main();
