import os from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EncodingResult } from './encode.js';
import { EncoderError } from './encoder.js';

/**
 * A pool of worker threads, each holding its own encoder built from the collection's stored
 * configuration, for bulk indexing. Documents are split into chunks spread over the workers;
 * results come back in input order, one per document: the encoded document, or why it could not be
 * encoded. The pool does no store work: the caller writes the results (Collection.upsertEncoded).
 *
 * Model encoders run onnxruntime inside each worker; the pool gives each worker's sessions an equal
 * share of the cores (`threads`) unless the configuration sets its own, so workers do not fight
 * over cores.
 */
export type { EncodingResult } from './encode.js';

export type WorkerRequest = { type: 'encode'; id: number; documents: Readonly<Record<string, unknown>>[] } | { type: 'close' };
export type WorkerReply =
  | { type: 'ready' }
  | { type: 'failed'; error: { code: string; message: string } }
  | { type: 'encoded'; id: number; results: EncodingResult[] };

export interface EncoderPoolOptions {
  /** Worker threads (default: the number of cores, at most 4). */
  readonly workers?: number;
  /** Documents per message to a worker (default 64). */
  readonly chunkSize?: number;
}

interface PoolWorker {
  readonly worker: Worker;
  readonly pending: Map<number, { resolve: (results: EncodingResult[]) => void; reject: (error: Error) => void }>;
}

export class EncoderPool {
  readonly size: number;
  private readonly workers: PoolWorker[];
  private readonly chunkSize: number;
  private nextId = 0;
  private nextWorker = 0;
  private closed = false;

  private constructor(workers: PoolWorker[], chunkSize: number) {
    this.workers = workers;
    this.size = workers.length;
    this.chunkSize = chunkSize;
  }

  /** Starts the workers and waits until every one has loaded its encoder. */
  static async start(config: Readonly<Record<string, unknown>>, options: EncoderPoolOptions = {}): Promise<EncoderPool> {
    const cores = os.availableParallelism();
    const count = options.workers ?? Math.min(4, cores);
    if (!Number.isInteger(count) || count < 1) throw new EncoderError('INVALID_ARGUMENT', `workers must be a positive integer, got ${count}`);
    const chunkSize = options.chunkSize ?? 64;
    const workerConfig = config['type'] === 'splade' && config['threads'] === undefined ? { ...config, threads: Math.max(1, Math.floor(cores / count)) } : config;
    const started: PoolWorker[] = [];
    try {
      await Promise.all(
        Array.from({ length: count }, async () => {
          const worker = new Worker(new URL('./encoder-worker.js', import.meta.url), { workerData: { config: workerConfig } });
          const entry: PoolWorker = { worker, pending: new Map() };
          started.push(entry);
          await new Promise<void>((resolve, reject) => {
            const onMessage = (reply: WorkerReply): void => {
              if (reply.type === 'ready') resolve();
              else if (reply.type === 'failed') reject(new EncoderError(reply.error.code, reply.error.message));
            };
            worker.once('message', onMessage);
            worker.once('error', reject);
          });
          worker.on('message', (reply: WorkerReply) => {
            if (reply.type !== 'encoded') return;
            entry.pending.get(reply.id)?.resolve(reply.results);
            entry.pending.delete(reply.id);
          });
          const failAll = (error: Error): void => {
            for (const waiting of entry.pending.values()) waiting.reject(error);
            entry.pending.clear();
          };
          worker.on('error', failAll);
          worker.on('exit', (code) => failAll(new EncoderError('ENCODER_WORKER_EXITED', `an encoder worker exited (code ${code})`)));
        }),
      );
    } catch (error) {
      await Promise.all(started.map((w) => w.worker.terminate()));
      throw error;
    }
    return new EncoderPool(started, chunkSize);
  }

  /** Encodes documents (their fields); results in input order. */
  async encode(documents: readonly Readonly<Record<string, unknown>>[]): Promise<EncodingResult[]> {
    if (this.closed) throw new EncoderError('ENCODER_POOL_CLOSED', 'the encoder pool is closed');
    const chunks: Promise<EncodingResult[]>[] = [];
    for (let start = 0; start < documents.length; start += this.chunkSize) {
      const entry = this.workers[this.nextWorker]!;
      this.nextWorker = (this.nextWorker + 1) % this.workers.length;
      const id = this.nextId++;
      chunks.push(
        new Promise<EncodingResult[]>((resolve, reject) => {
          entry.pending.set(id, { resolve, reject });
          entry.worker.postMessage({ type: 'encode', id, documents: documents.slice(start, start + this.chunkSize) } satisfies WorkerRequest);
        }),
      );
    }
    return (await Promise.all(chunks)).flat();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.workers.map(
        (entry) =>
          new Promise<void>((resolve) => {
            entry.worker.once('exit', () => resolve());
            entry.worker.postMessage({ type: 'close' } satisfies WorkerRequest);
          }),
      ),
    );
  }
}
