import { encodeBatchForCollection, storedFieldsOf } from '../engine/collection.js';
import type { DenseSide } from '../engine/dense-side.js';
import { toIngestDocument, type IngestDocument } from '../engine/documents.js';
import { errorCode } from '../common/errors.js';
import type { LineOutcome, PackedBatch } from '../engine/packed-batch.js';
import type { SparseEncoder } from '../encoders/encoder.js';
import { PrecomputedEncoder } from '../encoders/precomputed.js';
import { LocalTokenTable } from '../encoders/token-table.js';
import { VectorLineScanner, type TermSink } from '../encoders/vector-line-scanner.js';
import { parseLine } from '../common/json-lines.js';

/** Raw input lines for one batch: bytes[starts[i], ends[i]) is input line lines[i]. */
export interface RawLines {
  readonly bytes: Uint8Array;
  readonly starts: Uint32Array;
  readonly ends: Uint32Array;
  readonly lines: Uint32Array;
}

/**
 * Turns raw JSON lines into a PackedBatch: reading, validation and encoding, all on the thread
 * that calls it (an encoder worker, or the writing thread when there is none). One LineEncoder
 * lives for one import, so its token tables give every token one local id throughout.
 *
 * Lines of precomputed vectors go through VectorLineScanner straight from their bytes; every other
 * line (and every line that scanner declines) is decoded, JSON.parse'd and encoded by the
 * collection's encoders as a single document would be.
 */
export class LineEncoder {
  private readonly tables: LocalTokenTable[] = [];
  private readonly scanner: VectorLineScanner | undefined;

  constructor(
    private readonly encoder: SparseEncoder,
    private readonly dense: DenseSide | undefined,
  ) {
    for (let field = 0; field < encoder.fieldNames.length; field++) this.tables.push(new LocalTokenTable());
    if (encoder instanceof PrecomputedEncoder && !dense) this.scanner = new VectorLineScanner(encoder.config, this.tables[0]!);
  }

  async encode(raw: RawLines): Promise<PackedBatch> {
    const count = raw.lines.length;
    const outcomes: LineOutcome[] = new Array(count);
    const sink = new PackedTerms(count * 64);
    const storedFields: string[] = [];
    const fieldCount = this.encoder.fieldNames.length;
    // Lines the scanner declined, encoded together below; their slots in `outcomes` wait.
    const general: { slot: number; document: IngestDocument }[] = [];
    const documentOrder: number[] = [];
    let lengths: number[] = [];

    for (let i = 0; i < count; i++) {
      const start = raw.starts[i]!;
      const end = raw.ends[i]!;
      const line = raw.lines[i]!;
      const scanned = this.scanner && !(line === 1 && raw.bytes[start] === 0xef) ? this.scanner.scan(raw.bytes, start, end, sink) : false;
      if (scanned) {
        sink.endDocument();
        outcomes[i] = { kind: 'document', id: scanned.id };
        storedFields.push(JSON.stringify(scanned.fields));
        documentOrder.push(i);
        for (let f = 0; f < fieldCount; f++) lengths.push(0);
        continue;
      }
      const parsed = parseLine(Buffer.from(raw.bytes.buffer, raw.bytes.byteOffset + start, end - start), line, 0);
      if (!parsed) {
        outcomes[i] = { kind: 'blank' };
        continue;
      }
      if (parsed.error) {
        outcomes[i] = { kind: 'unreadable', code: parsed.error.code, message: parsed.error.message };
        continue;
      }
      try {
        general.push({ slot: i, document: toIngestDocument(parsed.value) });
      } catch (error) {
        outcomes[i] = { kind: 'unreadable', code: errorCode(error) ?? 'INVALID_DOCUMENT', message: `line ${line}: ${(error as Error).message}` };
      }
    }

    let dense: Float32Array | undefined;
    let denseDimension: number | undefined;
    if (general.length === 0) {
      return this.finish(outcomes, storedFields, sink, new Uint32Array(lengths), fieldCount);
    }
    // The general path: merge its documents into line order with the scanned ones.
    const encoded = await encodeBatchForCollection(this.encoder, this.dense, general.map((g) => g.document));
    const scannedDocs = documentOrder.length;
    const merged = new PackedTerms(sink.size + general.length * 64);
    const mergedFields: string[] = [];
    const mergedLengths: number[] = [];
    const denseRows: (Float32Array | undefined)[] = [];
    let nextScanned = 0;
    let nextGeneral = 0;
    for (let i = 0; i < count; i++) {
      if (nextScanned < scannedDocs && documentOrder[nextScanned] === i) {
        merged.copyDocument(sink, nextScanned);
        mergedFields.push(storedFields[nextScanned]!);
        for (let f = 0; f < fieldCount; f++) mergedLengths.push(0);
        denseRows.push(undefined);
        nextScanned++;
        continue;
      }
      if (nextGeneral >= general.length || general[nextGeneral]!.slot !== i) continue;
      const { document } = general[nextGeneral]!;
      const outcome = encoded[nextGeneral]!;
      nextGeneral++;
      if ('error' in outcome) {
        outcomes[i] = { kind: 'rejected', id: document.id, code: outcome.error.code, message: outcome.error.message };
        continue;
      }
      if (this.dense && !outcome.dense) {
        outcomes[i] = { kind: 'rejected', id: document.id, code: 'VECTOR_MISSING', message: 'the document has no dense vector' };
        continue;
      }
      outcomes[i] = { kind: 'document', id: document.id };
      for (let field = 0; field < outcome.terms.length; field++) {
        const table = this.tables[field]!;
        for (const [text, value] of outcome.terms[field]!) merged.pushField(field, table.idOfText(text), value);
      }
      merged.endDocument();
      mergedFields.push(JSON.stringify(storedFieldsOf(this.encoder, this.dense, document.fields)));
      for (let f = 0; f < fieldCount; f++) mergedLengths.push(outcome.lengths[f] ?? 0);
      denseRows.push(outcome.dense);
    }
    lengths = mergedLengths;
    if (this.dense && denseRows.length > 0) {
      denseDimension = denseRows.find((row) => row !== undefined)?.length ?? 0;
      dense = new Float32Array(denseRows.length * denseDimension);
      denseRows.forEach((row, d) => row && dense!.set(row, d * denseDimension!));
    }
    return this.finish(outcomes, mergedFields, merged, new Uint32Array(lengths), fieldCount, dense, denseDimension);
  }

  private finish(
    outcomes: LineOutcome[],
    storedFields: string[],
    terms: PackedTerms,
    lengths: Uint32Array,
    fieldCount: number,
    dense?: Float32Array,
    denseDimension?: number,
  ): PackedBatch {
    const newTokens: { field: number; id: number; text: string }[] = [];
    this.tables.forEach((table, field) => {
      for (const token of table.takeNew()) newTokens.push({ field, id: token.id, text: token.text });
    });
    return {
      outcomes,
      storedFields,
      ...terms.arrays(),
      lengths,
      fieldCount,
      ...(dense ? { dense, denseDimension: denseDimension! } : {}),
      newTokens,
    };
  }
}

/** Growable columns of (field, local id, value) with per-document offsets. */
class PackedTerms implements TermSink {
  private field: Uint8Array;
  private local: Uint32Array;
  private values: Float32Array;
  private starts: number[] = [0];
  size = 0;

  constructor(capacity: number) {
    this.field = new Uint8Array(Math.max(capacity, 16));
    this.local = new Uint32Array(Math.max(capacity, 16));
    this.values = new Float32Array(Math.max(capacity, 16));
  }

  push(localId: number, value: number): void {
    this.pushField(0, localId, value);
  }

  pushField(field: number, localId: number, value: number): void {
    if (this.size === this.local.length) this.grow();
    this.field[this.size] = field;
    this.local[this.size] = localId;
    this.values[this.size] = value;
    this.size++;
  }

  drop(count: number): void {
    this.size -= count;
  }

  endDocument(): void {
    this.starts.push(this.size);
  }

  copyDocument(from: PackedTerms, document: number): void {
    const start = from.starts[document]!;
    const end = from.starts[document + 1]!;
    for (let i = start; i < end; i++) this.pushField(from.field[i]!, from.local[i]!, from.values[i]!);
    this.endDocument();
  }

  arrays(): { termStart: Uint32Array; termField: Uint8Array; termLocal: Uint32Array; termValues: Float32Array } {
    return {
      termStart: Uint32Array.from(this.starts),
      termField: this.field.slice(0, this.size),
      termLocal: this.local.slice(0, this.size),
      termValues: this.values.slice(0, this.size),
    };
  }

  private grow(): void {
    const capacity = this.local.length * 2;
    const field = new Uint8Array(capacity);
    field.set(this.field);
    const local = new Uint32Array(capacity);
    local.set(this.local);
    const values = new Float32Array(capacity);
    values.set(this.values);
    this.field = field;
    this.local = local;
    this.values = values;
  }
}
