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

let sortKeys = new Float64Array(1024);

/**
 * A document's (id, value) pairs sorted by id, as new arrays of exactly `count` entries. The sort
 * carries values along without tuples: (id, position) packed into one double, one shared scratch.
 */
export function sortedVector(ids: ArrayLike<number>, encounterValues: ArrayLike<number>, count: number, offset = 0): { indices: Uint32Array; values: Float32Array } {
  if (count >= 0x100000) throw new Error('a document may hold at most 1048575 distinct terms');
  if (sortKeys.length < count) sortKeys = new Float64Array(Math.max(count, sortKeys.length * 2));
  const keys = sortKeys.subarray(0, count);
  let sorted = true;
  for (let i = 0; i < count; i++) {
    keys[i] = ids[offset + i]! * 0x100000 + i;
    if (i > 0 && keys[i]! < keys[i - 1]!) sorted = false;
  }
  if (!sorted) keys.sort();
  const indices = new Uint32Array(count);
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const key = keys[i]!;
    const position = key % 0x100000;
    indices[i] = (key - position) / 0x100000;
    values[i] = encounterValues[offset + position]!;
  }
  return { indices, values };
}
