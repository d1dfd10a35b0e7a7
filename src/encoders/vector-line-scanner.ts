import type { PrecomputedEncoderConfig } from './precomputed.js';
import type { LocalTokenTable } from './token-table.js';

/**
 * The fast path for one JSON line of precomputed vectors, `{"id": ..., "vector": {"token": weight},
 * ...other fields}`, read straight from its UTF-8 bytes: tokens become local ids (no string per
 * occurrence), weights are parsed in place. It accepts only what the general path
 * (JSON.parse, toIngestDocument, PrecomputedEncoder) would accept and turns into the same
 * document; anything else (an escape in a token, a duplicate key, a negative weight, a bad line)
 * returns false and the caller takes the general path, which reports the error. The tests hold the
 * two paths to the same results (test/vector-lines.test.ts).
 */
export interface ScannedVectorLine {
  id: string;
  /** Stored fields: every top-level field but the id and the vector, as JSON.parse gives them. */
  fields: Record<string, unknown>;
  /** Number of entries appended to the term sink for this line. */
  terms: number;
}

export interface TermSink {
  push(localId: number, value: number): void;
  /** Drops the last `count` entries (a line that falls back after some of its terms were pushed). */
  drop(count: number): void;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** 10^0 .. 10^22 are exact doubles: a mantissa below 2^53 divided or multiplied by one rounds once. */
const EXACT_POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

const decoder = new TextDecoder('utf-8', { fatal: true });
const MAX_ID_LENGTH = 512;

export class VectorLineScanner {
  /** Per local id: the number of the line that last used it (duplicate tokens fall back). */
  private stamp = new Int32Array(1024);
  private lineSerial = 0;
  private bytes: Uint8Array = new Uint8Array(0);
  private at = 0;
  private end = 0;

  constructor(
    private readonly config: PrecomputedEncoderConfig,
    private readonly table: LocalTokenTable,
  ) {}

  /** Scans bytes[start, end); on success the line's terms are in `sink`, on false nothing is. */
  scan(bytes: Uint8Array, start: number, end: number, sink: TermSink): ScannedVectorLine | false {
    this.bytes = bytes;
    this.at = start;
    this.end = end;
    this.lineSerial++;
    let pushed = 0;
    const fail = (): false => {
      sink.drop(pushed);
      return false;
    };
    let id: string | undefined;
    let idKey: string | undefined;
    let sawVector = false;
    const fields: Record<string, unknown> = {};
    const seenKeys = new Set<string>();
    this.skipSpace();
    if (!this.take(OPEN_BRACE)) return fail();
    this.skipSpace();
    if (this.peek() === CLOSE_BRACE) return fail();
    for (;;) {
      const key = this.plainString();
      if (key === undefined || key === '__proto__' || seenKeys.has(key)) return fail();
      seenKeys.add(key);
      this.skipSpace();
      if (!this.take(COLON)) return fail();
      this.skipSpace();
      if (key === this.config.vectorField) {
        const count = this.vector(sink);
        if (count < 0) {
          pushed += -count - 1;
          return fail();
        }
        pushed += count;
        sawVector = true;
      } else if (key === 'id' || key === '_id') {
        if (idKey !== undefined) return fail();
        idKey = key;
        id = this.idValue();
        if (id === undefined) return fail();
      } else {
        const valueStart = this.at;
        if (!this.skipValue()) return fail();
        let value: unknown;
        try {
          value = JSON.parse(decoder.decode(this.bytes.subarray(valueStart, this.at)));
        } catch {
          return fail();
        }
        fields[key] = value;
      }
      const next = this.afterMember();
      if (next === 'end') break;
      if (next === 'bad') return fail();
    }
    this.skipSpace();
    if (this.at !== this.end || !sawVector || id === undefined || pushed === 0) return fail();
    return { id, fields, terms: pushed };
  }

  /**
   * The vector object's entries into the sink. Returns how many were pushed, or -(pushed + 1) when
   * the general path must take over (it reports or decides the case).
   */
  private vector(sink: TermSink): number {
    let pushed = 0;
    const bail = (): number => -(pushed + 1);
    if (!this.take(OPEN_BRACE)) return bail();
    this.skipSpace();
    if (this.peek() === CLOSE_BRACE) return bail();
    const { maxTerms, maxTokenLength } = this.config;
    let entries = 0;
    for (;;) {
      if (!this.take(QUOTE)) return bail();
      const tokenStart = this.at;
      if (!this.skipStringBody(false)) return bail();
      const tokenEnd = this.at - 1;
      if (tokenEnd === tokenStart) return bail();
      const localId = this.table.idOfBytes(this.bytes, tokenStart, tokenEnd);
      if (localId < 0) return bail();
      const length = this.table.textLength(localId);
      if (length > maxTokenLength) return bail();
      if (++entries > maxTerms) return bail();
      this.skipSpace();
      if (!this.take(COLON)) return bail();
      this.skipSpace();
      const weight = this.number();
      if (weight === undefined || weight < 0) return bail();
      if (localId >= this.stamp.length) {
        const grown = new Int32Array(Math.max(this.stamp.length * 2, localId + 1));
        grown.set(this.stamp);
        this.stamp = grown;
      }
      // A repeated token: JSON.parse keeps the last weight; the general path settles it.
      if (this.stamp[localId] === this.lineSerial) return bail();
      this.stamp[localId] = this.lineSerial;
      if (weight > 0) {
        sink.push(localId, weight);
        pushed++;
      }
      const next = this.afterMember();
      if (next === 'end') return pushed;
      if (next === 'bad') return bail();
    }
  }

  /** A string id without escapes, or a finite number id (as toIngestDocument turns it into text). */
  private idValue(): string | undefined {
    const first = this.peek();
    let id: string;
    if (first === QUOTE) {
      const text = this.plainString();
      if (text === undefined) return undefined;
      id = text;
    } else {
      const value = this.number();
      if (value === undefined) return undefined;
      id = String(value);
    }
    if (id.length === 0 || id.length > MAX_ID_LENGTH || id.trim().length === 0) return undefined;
    return id;
  }

  /** A string with no escapes, decoded; undefined otherwise. */
  private plainString(): string | undefined {
    if (!this.take(QUOTE)) return undefined;
    const start = this.at;
    if (!this.skipStringBody(false)) return undefined;
    try {
      return decoder.decode(this.bytes.subarray(start, this.at - 1));
    } catch {
      return undefined;
    }
  }

  /** Moves past a string body and its closing quote; escapes only where allowed. */
  private skipStringBody(allowEscapes: boolean): boolean {
    const bytes = this.bytes;
    let at = this.at;
    while (at < this.end) {
      const byte = bytes[at]!;
      if (byte === QUOTE) {
        this.at = at + 1;
        return true;
      }
      if (byte < 0x20) return false;
      if (byte === BACKSLASH) {
        if (!allowEscapes) return false;
        at += 2;
        continue;
      }
      at++;
    }
    return false;
  }

  /**
   * A JSON number, parsed to the double JSON.parse gives: short mantissas exactly, the rest by
   * Number() on the text.
   */
  private number(): number | undefined {
    const bytes = this.bytes;
    const start = this.at;
    let at = start;
    let negative = false;
    if (bytes[at] === MINUS) {
      negative = true;
      at++;
    }
    let mantissa = 0;
    let digits = 0;
    let fractionDigits = 0;
    const intStart = at;
    while (at < this.end && bytes[at]! >= DIGIT_0 && bytes[at]! <= DIGIT_9) {
      mantissa = mantissa * 10 + (bytes[at]! - DIGIT_0);
      if (mantissa !== 0) digits++;
      at++;
    }
    const intDigits = at - intStart;
    if (intDigits === 0 || (intDigits > 1 && bytes[intStart] === DIGIT_0)) return undefined;
    if (bytes[at] === DOT) {
      at++;
      const fracStart = at;
      while (at < this.end && bytes[at]! >= DIGIT_0 && bytes[at]! <= DIGIT_9) {
        mantissa = mantissa * 10 + (bytes[at]! - DIGIT_0);
        if (mantissa !== 0) digits++;
        at++;
      }
      fractionDigits = at - fracStart;
      if (fractionDigits === 0) return undefined;
    }
    let exponent = 0;
    if (bytes[at] === 0x65 || bytes[at] === 0x45) {
      at++;
      let exponentNegative = false;
      if (bytes[at] === MINUS || bytes[at] === PLUS) {
        exponentNegative = bytes[at] === MINUS;
        at++;
      }
      const expStart = at;
      while (at < this.end && bytes[at]! >= DIGIT_0 && bytes[at]! <= DIGIT_9 && at - expStart < 6) {
        exponent = exponent * 10 + (bytes[at]! - DIGIT_0);
        at++;
      }
      if (at === expStart || (at < this.end && bytes[at]! >= DIGIT_0 && bytes[at]! <= DIGIT_9)) return undefined;
      if (exponentNegative) exponent = -exponent;
    }
    this.at = at;
    const scale = exponent - fractionDigits;
    let value: number;
    if (digits <= 15 && scale >= -22 && scale <= 22) {
      // Both operands are exact doubles, so the one rounding of * or / is the correctly rounded result.
      value = scale < 0 ? mantissa / EXACT_POWERS_OF_TEN[-scale]! : mantissa * EXACT_POWERS_OF_TEN[scale]!;
    } else {
      let text = '';
      for (let i = start; i < at; i++) text += String.fromCharCode(bytes[i]!);
      value = Number(text);
      return Number.isFinite(value) ? value : undefined;
    }
    return negative ? -value : value;
  }

  /** Moves past any JSON value (checked for shape here, for content by JSON.parse after). */
  private skipValue(): boolean {
    const first = this.peek();
    if (first === QUOTE) {
      this.at++;
      return this.skipStringBody(true);
    }
    if (first === OPEN_BRACE || first === OPEN_BRACKET) {
      let depth = 0;
      const bytes = this.bytes;
      while (this.at < this.end) {
        const byte = bytes[this.at]!;
        if (byte === QUOTE) {
          this.at++;
          if (!this.skipStringBody(true)) return false;
          continue;
        }
        this.at++;
        if (byte === OPEN_BRACE || byte === OPEN_BRACKET) depth++;
        else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
          depth--;
          if (depth === 0) return true;
        }
      }
      return false;
    }
    // A number or a literal: up to the next structural byte or space.
    const start = this.at;
    const bytes = this.bytes;
    while (this.at < this.end) {
      const byte = bytes[this.at]!;
      if (byte === COMMA || byte === CLOSE_BRACE || byte === 0x20 || byte === 0x09 || byte === 0x0a || byte === 0x0d) break;
      this.at++;
    }
    return this.at > start;
  }

  /** After an object member: a comma (another member follows), the closing brace, or neither. */
  private afterMember(): 'next' | 'end' | 'bad' {
    this.skipSpace();
    const next = this.peek();
    this.at++;
    if (next === COMMA) {
      this.skipSpace();
      return 'next';
    }
    return next === CLOSE_BRACE ? 'end' : 'bad';
  }

  private skipSpace(): void {
    const bytes = this.bytes;
    while (this.at < this.end) {
      const byte = bytes[this.at]!;
      if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return;
      this.at++;
    }
  }

  private peek(): number {
    return this.at < this.end ? this.bytes[this.at]! : -1;
  }

  private take(byte: number): boolean {
    if (this.peek() !== byte) return false;
    this.at++;
    return true;
  }
}
