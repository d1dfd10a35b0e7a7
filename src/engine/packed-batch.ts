import type { TermEntry } from '../store/store.js';
import type { TermDictionary } from './dictionary.js';

/**
 * A batch of encoded documents in the form that crosses from an encoder thread to the writing
 * thread: typed arrays (transferred, not copied) and one small record per input line. Terms are
 * local ids of the encoder thread's token tables; a token's text travels once, in `newTokens` of
 * the first batch that met it, and `TokenResolver` maps local ids to the collection's term ids.
 */
export type LineOutcome =
  | { readonly kind: 'document'; readonly id: string }
  /** Rejected while reading (not UTF-8, not JSON, no id): the document never existed. */
  | { readonly kind: 'unreadable'; readonly code: string; readonly message: string }
  /** Read, but the encoder refused it. */
  | { readonly kind: 'rejected'; readonly id: string; readonly code: string; readonly message: string }
  /** Only white space. */
  | { readonly kind: 'blank' };

export interface PackedBatch {
  /** One per input line of the task, in order. */
  readonly outcomes: LineOutcome[];
  /** Per document (the 'document' outcomes, in order): stored fields as JSON text. */
  readonly storedFields: string[];
  /** documents + 1 offsets into the term arrays. */
  readonly termStart: Uint32Array;
  readonly termField: Uint8Array;
  readonly termLocal: Uint32Array;
  readonly termValues: Float32Array;
  /** documents x fieldCount token counts. */
  readonly lengths: Uint32Array;
  readonly fieldCount: number;
  /** documents x denseDimension, for collections with a dense side. */
  readonly dense?: Float32Array;
  readonly denseDimension?: number;
  /** Tokens first met in this batch: field, local id and text. */
  readonly newTokens: { field: number; id: number; text: string }[];
}

/** The buffers of a batch, for postMessage's transfer list. */
export function packedTransferList(batch: PackedBatch): ArrayBuffer[] {
  const buffers = [batch.termStart, batch.termField, batch.termLocal, batch.termValues, batch.lengths, ...(batch.dense ? [batch.dense] : [])].map(
    (array) => array.buffer as ArrayBuffer,
  );
  return [...new Set(buffers)];
}

/**
 * Local ids of one encoder thread's token tables -> term ids of a collection. Unresolved ids are
 * looked up (or assigned) in the dictionary by their text the first time a document uses them;
 * after a batch that did not commit, `forgetAbove` drops mappings to ids the dictionary took back.
 */
export class TokenResolver {
  private texts: string[][] = [];
  private globals: Int32Array[] = [];

  learn(tokens: readonly { field: number; id: number; text: string }[]): void {
    for (const { field, id, text } of tokens) {
      while (this.texts.length <= field) {
        this.texts.push([]);
        this.globals.push(new Int32Array(1024).fill(-1));
      }
      this.texts[field]![id] = text;
      if (id >= this.globals[field]!.length) {
        const grown = new Int32Array(Math.max(this.globals[field]!.length * 2, id + 1)).fill(-1);
        grown.set(this.globals[field]!);
        this.globals[field] = grown;
      }
    }
  }

  /** The term id of a local id, assigning a new term (listed in newTerms) where the text is new. */
  resolve(field: number, local: number, dictionary: TermDictionary, newTerms: TermEntry[]): number {
    const globals = this.globals[field]!;
    const known = globals[local]!;
    if (known >= 0) return known;
    const id = dictionary.idOf(field, this.texts[field]![local]!, newTerms);
    globals[local] = id;
    return id;
  }

  /** Forgets mappings to term ids >= size (they were rolled back with a failed batch). */
  forgetAbove(size: number): void {
    for (const globals of this.globals) {
      for (let i = 0; i < globals.length; i++) if (globals[i]! >= size) globals[i] = -1;
    }
  }
}
