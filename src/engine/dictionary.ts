import type { Store, TermEntry } from '../store/store.js';
import type { FieldTerms } from '../encoders/encoder.js';

/**
 * The term dictionary of one collection held in memory: (field, text) -> term id, and back.
 * Ids are assigned densely in first-seen order and persisted with the batch that introduced them;
 * `rollback` forgets ids handed out for a batch that did not commit.
 */
export class TermDictionary {
  private readonly byField: Map<string, number>[] = [];
  private readonly entries: TermEntry[] = [];
  private committedCount = 0;

  constructor(fieldCount: number, stored: readonly TermEntry[]) {
    for (let field = 0; field < fieldCount; field++) this.byField.push(new Map());
    for (const entry of stored) {
      if (entry.termId !== this.entries.length) throw new Error(`term dictionary has a gap at id ${this.entries.length}`);
      this.entries.push(entry);
      this.fieldMap(entry.field).set(entry.text, entry.termId);
    }
    this.committedCount = this.entries.length;
  }

  static load(store: Store, collectionId: number, fieldCount: number): TermDictionary {
    return new TermDictionary(fieldCount, store.loadTerms(collectionId));
  }

  get size(): number {
    return this.entries.length;
  }

  entry(termId: number): TermEntry | undefined {
    return this.entries[termId];
  }

  lookup(field: number, text: string): number | undefined {
    return this.byField[field]?.get(text);
  }

  /** The id of a term, assigning the next id (and listing it in newTerms) when it is new. */
  idOf(field: number, text: string, newTerms: TermEntry[]): number {
    const map = this.fieldMap(field);
    let id = map.get(text);
    if (id === undefined) {
      id = this.entries.length;
      const entry = { termId: id, field, text };
      this.entries.push(entry);
      newTerms.push(entry);
      map.set(text, id);
    }
    return id;
  }

  /** Term ids (sorted ascending) and values of a document, assigning ids to new terms. */
  assign(terms: FieldTerms, newTerms: TermEntry[]): { indices: Uint32Array; values: Float32Array } {
    let count = 0;
    for (const map of terms) count += map.size;
    const ids = new Uint32Array(count);
    const encounterValues = new Float32Array(count);
    let n = 0;
    for (let field = 0; field < terms.length; field++) {
      for (const [text, value] of terms[field]!) {
        ids[n] = this.idOf(field, text, newTerms);
        encounterValues[n] = value;
        n++;
      }
    }
    return sortedVector(ids, encounterValues, count);
  }

  /** Query terms that exist in the dictionary, with their weights summed per id. */
  resolve(terms: FieldTerms): { termIds: Uint32Array; weights: Float32Array; unknown: string[] } {
    const weights = new Map<number, number>();
    const unknown: string[] = [];
    for (let field = 0; field < terms.length; field++) {
      for (const [text, weight] of terms[field]!) {
        const id = this.lookup(field, text);
        if (id === undefined) {
          if (field === 0 || !unknown.includes(text)) unknown.push(text);
          continue;
        }
        weights.set(id, (weights.get(id) ?? 0) + weight);
      }
    }
    const ids = [...weights.keys()].sort((a, b) => a - b);
    return {
      termIds: Uint32Array.from(ids),
      weights: Float32Array.from(ids.map((id) => weights.get(id)!)),
      unknown: [...new Set(unknown)],
    };
  }

  commit(): void {
    this.committedCount = this.entries.length;
  }

  rollback(): void {
    while (this.entries.length > this.committedCount) {
      const entry = this.entries.pop()!;
      this.fieldMap(entry.field).delete(entry.text);
    }
  }

  private fieldMap(field: number): Map<string, number> {
    while (this.byField.length <= field) this.byField.push(new Map());
    return this.byField[field]!;
  }
}

/** Radix sort scratch, shared by every call (documents are sorted one at a time). */
let radixIds = new Uint32Array(1024);
let radixPositions = new Uint32Array(1024);
let swapIds = new Uint32Array(1024);
let swapPositions = new Uint32Array(1024);
const digitCounts = new Uint32Array(256);

/**
 * A document's (id, value) pairs sorted by id (equal ids keep their encounter order), as new
 * arrays of exactly `count` entries. A stable LSD radix sort on 8-bit digits, as many passes as
 * the largest id needs (two for a 30k vocabulary). For 160 random ids below 30,522 it took 5.5 µs
 * against 12.5 µs for the comparison sort of packed (id, position) doubles it replaced, both with
 * the two output allocations, which are about 2 µs of it.
 */
export function sortedVector(ids: ArrayLike<number>, encounterValues: ArrayLike<number>, count: number, offset = 0): { indices: Uint32Array; values: Float32Array } {
  const indices = new Uint32Array(count);
  const values = new Float32Array(count);
  let sorted = true;
  let largest = 0;
  for (let i = 0; i < count; i++) {
    const id = ids[offset + i]!;
    if (i > 0 && id < indices[i - 1]!) sorted = false;
    if (id > largest) largest = id;
    indices[i] = id;
  }
  if (sorted) {
    for (let i = 0; i < count; i++) values[i] = encounterValues[offset + i]!;
    return { indices, values };
  }
  if (radixIds.length < count) {
    const size = Math.max(count, radixIds.length * 2);
    radixIds = new Uint32Array(size);
    radixPositions = new Uint32Array(size);
    swapIds = new Uint32Array(size);
    swapPositions = new Uint32Array(size);
  }
  let fromIds = radixIds;
  let fromPositions = radixPositions;
  let toIds = swapIds;
  let toPositions = swapPositions;
  fromIds.set(indices);
  for (let i = 0; i < count; i++) fromPositions[i] = i;
  for (let shift = 0; shift < 32 && largest >>> shift > 0; shift += 8) {
    digitCounts.fill(0);
    for (let i = 0; i < count; i++) digitCounts[(fromIds[i]! >>> shift) & 255]!++;
    let running = 0;
    for (let digit = 0; digit < 256; digit++) {
      const n = digitCounts[digit]!;
      digitCounts[digit] = running;
      running += n;
    }
    for (let i = 0; i < count; i++) {
      const id = fromIds[i]!;
      const slot = digitCounts[(id >>> shift) & 255]!++;
      toIds[slot] = id;
      toPositions[slot] = fromPositions[i]!;
    }
    [fromIds, toIds] = [toIds, fromIds];
    [fromPositions, toPositions] = [toPositions, fromPositions];
  }
  for (let i = 0; i < count; i++) {
    indices[i] = fromIds[i]!;
    values[i] = encounterValues[offset + fromPositions[i]!]!;
  }
  return { indices, values };
}
