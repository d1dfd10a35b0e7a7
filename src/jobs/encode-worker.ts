import { parentPort } from 'node:worker_threads';
import { encodeBatchForCollection, type EncodingOutcome } from '../engine/collection.js';
import { DenseSide, denseSettings } from '../engine/dense-side.js';
import type { IngestDocument } from '../engine/documents.js';
import { createEncoder } from '../encoders/registry.js';
import type { SparseEncoder } from '../encoders/encoder.js';

/** A request from the pool: encode these documents with the encoder this configuration describes. */
export interface EncodeTask {
  readonly taskId: number;
  /** The configuration serialised once by the pool; workers keep an encoder per distinct text. */
  readonly encoderConfig: string;
  /** The collection's dense settings, serialised the same way; absent for sparse-only collections. */
  readonly denseConfig?: string;
  readonly documents: readonly IngestDocument[];
}

export type EncodeReply =
  | { readonly taskId: number; readonly outcomes: EncodingOutcome[] }
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

parentPort?.on('message', async (task: EncodeTask) => {
  let reply: EncodeReply;
  try {
    const encoder = encoderFor(task.encoderConfig);
    const dense = task.denseConfig !== undefined ? denseSideFor(task.denseConfig) : undefined;
    reply = { taskId: task.taskId, outcomes: await encodeBatchForCollection(encoder, dense, task.documents) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    reply = { taskId: task.taskId, failure: { code: typeof code === 'string' ? code : 'ENCODING_FAILED', message: (error as Error).message } };
  }
  parentPort!.postMessage(reply);
});
