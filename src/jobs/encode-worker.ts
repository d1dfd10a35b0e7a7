import { parentPort } from 'node:worker_threads';
import { encodeBatchForCollection, type EncodingOutcome } from '../engine/collection.js';
import { DenseSide, denseSettings } from '../engine/dense-side.js';
import type { IngestDocument } from '../engine/documents.js';
import { createEncoder } from '../encoders/registry.js';
import type { SparseEncoder } from '../encoders/encoder.js';
import { packedTransferList, type PackedBatch } from '../engine/packed-batch.js';
import { LineEncoder, type RawLines } from './line-encoder.js';

/** A request from the pool: encode these documents with the encoder this configuration describes. */
export interface EncodeTask {
  readonly kind?: 'documents';
  readonly taskId: number;
  /** The configuration serialised once by the pool; workers keep an encoder per distinct text. */
  readonly encoderConfig: string;
  /** The collection's dense settings, serialised the same way; absent for sparse-only collections. */
  readonly denseConfig?: string;
  readonly documents: readonly IngestDocument[];
}

/** Raw lines of one import (its session) to read, encode and pack; see jobs/line-encoder.ts. */
export interface EncodeLinesTask {
  readonly kind: 'lines';
  readonly taskId: number;
  readonly session: number;
  readonly encoderConfig: string;
  readonly denseConfig?: string;
  readonly raw: RawLines;
}

/** An import ended: its token tables can go. */
export interface ReleaseSessionTask {
  readonly kind: 'release';
  readonly session: number;
}

export type WorkerTask = EncodeTask | EncodeLinesTask | ReleaseSessionTask;

export type EncodeReply =
  | { readonly taskId: number; readonly outcomes: EncodingOutcome[] }
  | { readonly taskId: number; readonly packed: PackedBatch }
  | { readonly taskId: number; readonly failure: { readonly code: string; readonly message: string } };

// Building an encoder can be costly (analyzers, vocabularies), so each worker builds one per configuration.
const encoders = new Map<string, SparseEncoder>();
const denseSides = new Map<string, DenseSide>();

function denseSideFor(config: string): DenseSide {
  let side = denseSides.get(config);
  if (!side) {
    side = new DenseSide(denseSettings(JSON.parse(config)));
    denseSides.set(config, side);
  }
  return side;
}

function encoderFor(config: string): SparseEncoder {
  let encoder = encoders.get(config);
  if (!encoder) {
    encoder = createEncoder(JSON.parse(config) as Record<string, unknown>);
    encoders.set(config, encoder);
  }
  return encoder;
}

const sessions = new Map<number, LineEncoder>();

parentPort?.on('message', async (task: WorkerTask) => {
  if (task.kind === 'release') {
    sessions.delete(task.session);
    return;
  }
  let reply: EncodeReply;
  try {
    const encoder = encoderFor(task.encoderConfig);
    const dense = task.denseConfig !== undefined ? denseSideFor(task.denseConfig) : undefined;
    if (task.kind === 'lines') {
      let lineEncoder = sessions.get(task.session);
      if (!lineEncoder) {
        lineEncoder = new LineEncoder(encoder, dense);
        sessions.set(task.session, lineEncoder);
      }
      const started = performance.now();
      const packed = await lineEncoder.encode(task.raw);
      parentPort!.postMessage({ taskId: task.taskId, packed, encodeMs: performance.now() - started }, packedTransferList(packed));
      return;
    }
    reply = { taskId: task.taskId, outcomes: await encodeBatchForCollection(encoder, dense, task.documents) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    reply = { taskId: task.taskId, failure: { code: typeof code === 'string' ? code : 'ENCODING_FAILED', message: (error as Error).message } };
  }
  parentPort!.postMessage(reply);
});
