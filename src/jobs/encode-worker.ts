import { parentPort } from 'node:worker_threads';
import { encodeForCollection, type EncodingOutcome } from '../engine/collection.js';
import type { IngestDocument } from '../engine/documents.js';
import { createEncoder } from '../encoders/registry.js';
import type { SparseEncoder } from '../encoders/encoder.js';

/** A request from the pool: encode these documents with the encoder this configuration describes. */
export interface EncodeTask {
  readonly taskId: number;
  /** The configuration serialised once by the pool; workers keep an encoder per distinct text. */
  readonly encoderConfig: string;
  readonly documents: readonly IngestDocument[];
}

export type EncodeReply =
  | { readonly taskId: number; readonly outcomes: EncodingOutcome[] }
  | { readonly taskId: number; readonly failure: { readonly code: string; readonly message: string } };

// Building an encoder can be costly (analyzers, vocabularies), so each worker builds one per configuration.
const encoders = new Map<string, SparseEncoder>();

function encoderFor(config: string): SparseEncoder {
  let encoder = encoders.get(config);
  if (!encoder) {
    encoder = createEncoder(JSON.parse(config) as Record<string, unknown>);
    encoders.set(config, encoder);
  }
  return encoder;
}

parentPort?.on('message', (task: EncodeTask) => {
  let reply: EncodeReply;
  try {
    const encoder = encoderFor(task.encoderConfig);
    reply = { taskId: task.taskId, outcomes: task.documents.map((document) => encodeForCollection(encoder, document)) };
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    reply = { taskId: task.taskId, failure: { code: typeof code === 'string' ? code : 'ENCODING_FAILED', message: (error as Error).message } };
  }
  parentPort!.postMessage(reply);
});
