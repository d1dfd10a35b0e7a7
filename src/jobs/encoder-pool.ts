import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { encodeBatchForCollection, type EncodingOutcome } from '../engine/collection.js';
import type { DenseSide } from '../engine/dense-side.js';
import type { IngestDocument } from '../engine/documents.js';
import { SparrowError } from '../common/errors.js';
import type { SparseEncoder } from '../encoders/encoder.js';
import type { PackedBatch } from '../engine/packed-batch.js';
import type { EncodeLinesTask, EncodeReply, EncodeTask } from './encode-worker.js';
import { LineEncoder, type RawLines } from './line-encoder.js';

interface PendingTask {
  readonly task: EncodeTask | EncodeLinesTask;
  readonly resolve: (reply: EncodeReply, encodedBy: number) => void;
  readonly reject: (error: Error) => void;
}

interface PoolWorker {
  readonly worker: Worker;
  /** Never reused: a restarted worker has fresh token tables, so batches name who packed them. */
  readonly serial: number;
  current: PendingTask | undefined;
}

/** A packed batch and the encoder (worker serial, or -1 for this thread) whose token ids it uses. */
export interface PackedResult {
  readonly batch: PackedBatch;
  readonly encodedBy: number;
  /** Time the encoder spent parsing and encoding the batch. */
  readonly encodeMs: number;
}

let nextSession = 1;

/**
 * Worker threads that encode documents (tokenising, stemming, model inference: the CPU-bound part
 * of indexing) while the main thread reads input, writes SQLite and answers requests. A worker
 * rebuilds the collection's encoder from its JSON configuration, so any encoder `createEncoder`
 * knows can run here. With size 0 the pool encodes on the calling thread.
 */
export class EncoderPool {
  readonly size: number;
  private readonly workers: PoolWorker[] = [];
  private readonly queue: PendingTask[] = [];
  private nextTaskId = 1;
  private nextWorkerSerial = 0;
  private closed = false;

  /**
   * Heap limit of each encoder thread in MB (SPARROW_WORKER_HEAP_MB; none by default). A thread
   * that runs past it dies alone: the batch it held fails with ENCODER_WORKER_FAILED, batches
   * committed before stay, and the next batch gets a fresh thread.
   */
  readonly workerHeapMb: number | undefined;

  constructor(size = EncoderPool.defaultSize(), options: { readonly workerHeapMb?: number } = {}) {
    if (!Number.isInteger(size) || size < 0) throw new SparrowError('INVALID_ARGUMENT', 'the encoder pool size must be an integer >= 0');
    this.size = size;
    const fromEnvironment = process.env['SPARROW_WORKER_HEAP_MB'];
    const heap = options.workerHeapMb ?? (fromEnvironment !== undefined && fromEnvironment !== '' ? Number(fromEnvironment) : undefined);
    if (heap !== undefined && !(Number.isInteger(heap) && heap >= 8)) {
      throw new SparrowError('INVALID_ARGUMENT', `the encoder threads' heap limit (SPARROW_WORKER_HEAP_MB) must be an integer number of MB >= 8, got ${JSON.stringify(fromEnvironment ?? heap)}`);
    }
    this.workerHeapMb = heap;
  }

  /** One worker per core beyond the main thread's, at least one, at most four. */
  static defaultSize(): number {
    return Math.max(1, Math.min(4, os.availableParallelism() - 1));
  }

  /** Encodes on the calling thread with the collection's own encoders (size 0, or a single document). */
  static encodeHere(encoder: SparseEncoder, dense: DenseSide | undefined, documents: readonly IngestDocument[]): Promise<EncodingOutcome[]> {
    return encodeBatchForCollection(encoder, dense, documents);
  }

  /** Encodes by the collection's sparse encoder and dense side (when it has one). */
  encode(encoder: SparseEncoder, dense: DenseSide | undefined, documents: readonly IngestDocument[]): Promise<EncodingOutcome[]> {
    if (this.closed) return Promise.reject(new SparrowError('POOL_CLOSED', 'the encoder pool is closed'));
    if (this.size === 0 || documents.length === 0) return EncoderPool.encodeHere(encoder, dense, documents);
    return new Promise((resolve, reject) => {
      const task: EncodeTask = {
        taskId: this.nextTaskId++,
        encoderConfig: JSON.stringify(encoder.config),
        ...(dense ? { denseConfig: JSON.stringify(dense.settings) } : {}),
        documents,
      };
      this.queue.push({ task, resolve: (reply) => resolve((reply as { outcomes: EncodingOutcome[] }).outcomes), reject });
      this.dispatch();
    });
  }

  /**
   * A session for one import of raw lines: each call reads, encodes and packs a batch in a worker
   * (or on this thread with size 0), keeping token tables per worker for the whole import.
   */
  linesSession(encoder: SparseEncoder, dense: DenseSide | undefined): LinesSession {
    const session = nextSession++;
    const encoderConfig = JSON.stringify(encoder.config);
    const denseConfig = dense ? JSON.stringify(dense.settings) : undefined;
    let local: LineEncoder | undefined;
    return {
      encode: (raw: RawLines): Promise<PackedResult> => {
        if (this.closed) return Promise.reject(new SparrowError('POOL_CLOSED', 'the encoder pool is closed'));
        if (this.size === 0) {
          local ??= new LineEncoder(encoder, dense);
          const started = performance.now();
          return local.encode(raw).then((batch) => ({ batch, encodedBy: -1, encodeMs: performance.now() - started }));
        }
        return new Promise((resolve, reject) => {
          const task: EncodeLinesTask = { kind: 'lines', taskId: this.nextTaskId++, session, encoderConfig, ...(denseConfig !== undefined ? { denseConfig } : {}), raw };
          this.queue.push({ task, resolve: (reply, encodedBy) => resolve({ batch: (reply as { packed: PackedBatch }).packed, encodedBy, encodeMs: (reply as { encodeMs?: number }).encodeMs ?? 0 }), reject });
          this.dispatch();
        });
      },
      release: (): void => {
        local = undefined;
        for (const { worker } of this.workers) worker.postMessage({ kind: 'release', session });
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) pending.reject(new SparrowError('POOL_CLOSED', 'the encoder pool is closed'));
    await Promise.all(this.workers.splice(0).map((w) => w.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let idle = this.workers.find((w) => w.current === undefined);
      if (!idle && this.workers.length < this.size) idle = this.spawn();
      if (!idle) return;
      const pending = this.queue.shift()!;
      idle.current = pending;
      // A busy worker keeps the process alive; an idle one must not (the CLI exits when its work is done).
      idle.worker.ref();
      const task = pending.task;
      idle.worker.postMessage(task, task.kind === 'lines' ? [task.raw.bytes.buffer as ArrayBuffer] : []);
    }
  }

  private spawn(): PoolWorker {
    const worker = new Worker(
      new URL('./encode-worker.js', import.meta.url),
      this.workerHeapMb !== undefined ? { resourceLimits: { maxOldGenerationSizeMb: this.workerHeapMb } } : {},
    );
    const entry: PoolWorker = { worker, serial: this.nextWorkerSerial++, current: undefined };
    worker.on('message', (reply: EncodeReply) => {
      const pending = entry.current;
      entry.current = undefined;
      worker.unref();
      if (pending && pending.task.taskId === reply.taskId) {
        if ('failure' in reply) pending.reject(new SparrowError(reply.failure.code, reply.failure.message));
        else pending.resolve(reply, entry.serial);
      }
      this.dispatch();
    });
    const retire = (error: Error): void => {
      const index = this.workers.indexOf(entry);
      if (index >= 0) this.workers.splice(index, 1);
      const pending = entry.current;
      entry.current = undefined;
      pending?.reject(new SparrowError('ENCODER_WORKER_FAILED', `an encoder worker stopped: ${error.message}`));
      if (!this.closed) this.dispatch();
    };
    worker.on('error', retire);
    worker.on('exit', (code) => {
      if (entry.current || this.workers.includes(entry)) retire(new Error(`exit code ${code}`));
    });
    this.workers.push(entry);
    return entry;
  }
}

export interface LinesSession {
  encode(raw: RawLines): Promise<PackedResult>;
  /** Frees the session's token tables in every worker. */
  release(): void;
}
