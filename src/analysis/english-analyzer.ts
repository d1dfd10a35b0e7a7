/**
 * Lucene 8's EnglishAnalyzer with default settings: StandardTokenizer -> EnglishPossessiveFilter ->
 * LowerCaseFilter -> StopFilter (Lucene's 33 English stop words) -> PorterStemFilter.
 */
import type { Analyzer } from './analyzer.js';
import { PorterStemmer } from './porter-stemmer.js';
import { StandardTokenizer, type StandardTokenizerOptions } from './standard-tokenizer.js';

/** Lucene's EnglishAnalyzer.ENGLISH_STOP_WORDS_SET (matched after lower-casing). */
export const ENGLISH_STOP_WORDS: ReadonlySet<string> = new Set([
  'a', 'an', 'and', 'are', 'as', 'at', 'be', 'but', 'by', 'for', 'if', 'in', 'into', 'is', 'it', 'no', 'not',
  'of', 'on', 'or', 'such', 'that', 'the', 'their', 'then', 'there', 'these', 'they', 'this', 'to', 'was',
  'will', 'with',
]);

const APOSTROPHE = 0x27;
const RIGHT_SINGLE_QUOTATION_MARK = 0x2019;
const FULLWIDTH_APOSTROPHE = 0xff07;
const CAPITAL_SIGMA = 0x3a3;
const CAPITAL_I_WITH_DOT = 0x130;

/**
 * Lower-cases like Lucene's LowerCaseFilter: Java's Character.toLowerCase per code point (simple case
 * mapping, no locale, no context). JavaScript's String#toLowerCase agrees except for final sigma
 * (context-sensitive there) and U+0130 (which expands to two code points there); those take the
 * per-code-point path.
 */
export function lowerCaseCodePoints(term: string): string {
  const length = term.length;
  let ascii = true;
  let upper = false;
  for (let i = 0; i < length; i++) {
    const c = term.charCodeAt(i);
    if (c >= 0x80) {
      ascii = false;
      break;
    }
    if (c >= 0x41 && c <= 0x5a) upper = true;
  }
  if (ascii) return upper ? term.toLowerCase() : term;
  if (term.indexOf(String.fromCharCode(CAPITAL_SIGMA)) < 0 && term.indexOf(String.fromCharCode(CAPITAL_I_WITH_DOT)) < 0) {
    return term.toLowerCase();
  }
  let result = '';
  for (const ch of term) {
    const cp = ch.codePointAt(0)!;
    if (cp === CAPITAL_SIGMA) result += '\u03c3';
    else if (cp === CAPITAL_I_WITH_DOT) result += 'i';
    else {
      const lower = ch.toLowerCase();
      result += lower.length === ch.length ? lower : ch;
    }
  }
  return result;
}

export class EnglishAnalyzer implements Analyzer {
  readonly name = 'english';
  private readonly tokenizer: StandardTokenizer;
  private readonly stemmer = new PorterStemmer();
  private readonly cache = new TermCache();

  constructor(options: StandardTokenizerOptions = {}) {
    this.tokenizer = new StandardTokenizer(options);
  }

  analyze(text: string): string[] {
    const terms: string[] = [];
    if (typeof text !== 'string' || text.length === 0) return terms;
    const tokenizer = this.tokenizer;
    tokenizer.reset(text);
    while (tokenizer.next()) {
      const term = this.currentTerm(text);
      if (term !== null) terms.push(term);
    }
    return terms;
  }

  /**
   * The same terms as analyze(), each with the UTF-16 offsets [start, end) of the token it came from
   * in `text` (what highlighting maps matched terms back to). Stop words are skipped.
   */
  analyzeSpans(text: string, visit: (term: string, start: number, end: number) => void): void {
    if (typeof text !== 'string' || text.length === 0) return;
    const tokenizer = this.tokenizer;
    tokenizer.reset(text);
    while (tokenizer.next()) {
      const term = this.currentTerm(text);
      if (term !== null) visit(term, tokenizer.start, tokenizer.end);
    }
  }

  /** The analyzed term of the tokenizer's current token (null for a stop word), cached by raw token. */
  private currentTerm(text: string): string | null {
    const { start, end } = this.tokenizer;
    const cached = this.cache.lookup(text, start, end);
    if (cached !== undefined) return cached;
    const raw = copyChars(text, start, end);
    const term = this.analyzeToken(raw);
    this.cache.storeMissed(raw, term);
    return term;
  }

  /** EnglishPossessiveFilter, LowerCaseFilter, StopFilter and PorterStemFilter for one token; null if stopped. */
  private analyzeToken(raw: string): string | null {
    let end = raw.length;
    // EnglishPossessiveFilter: drop a trailing 's / 'S (three apostrophe variants)
    if (end >= 2) {
      const last = raw.charCodeAt(end - 1);
      if (last === 0x73 || last === 0x53) {
        const quote = raw.charCodeAt(end - 2);
        if (quote === APOSTROPHE || quote === RIGHT_SINGLE_QUOTATION_MARK || quote === FULLWIDTH_APOSTROPHE) end -= 2;
      }
    }
    const term = lowerCaseCodePoints(end === raw.length ? raw : raw.slice(0, end));
    if (ENGLISH_STOP_WORDS.has(term)) return null;
    return this.stemmer.stem(term);
  }
}

/** Slots a cache table starts with (a power of two); tables stay at most half full. */
const INITIAL_CACHE_SLOTS = 1 << 12;
/** Distinct tokens a table keeps before it starts over, which bounds its memory. */
const MAX_CACHE_ENTRIES = 1 << 17;
/** ASCII tokens up to this length pack exactly into a double (7 bits a char, below 2^53). */
const MAX_PACKED_LENGTH = 7;
/** Longer tokens are rare and seldom repeated; they are analyzed each time. */
const MAX_CACHED_TOKEN_LENGTH = 48;

/**
 * Raw token -> analyzed term (null for a stop word). The filter chain is a pure function of the raw
 * token and word frequencies are Zipfian, so each distinct raw token needs analyzing only once.
 * Lookups read the token's chars in place, without slicing it out of the text:
 * - short ASCII tokens (most English words) are keyed by their chars packed into a number, so a
 *   match is a single comparison;
 * - other tokens by a 32-bit hash, confirmed char by char against the stored raw token.
 * Entries live in dense arrays in first-seen order, so frequent tokens stay close together.
 */
class TermCache {
  private packedKeys = new Float64Array(INITIAL_CACHE_SLOTS); // 0 marks an empty slot
  private packedEntries = new Int32Array(INITIAL_CACHE_SLOTS);
  private packedTerms: (string | null)[] = [];
  private hashedSlots = new Int32Array(INITIAL_CACHE_SLOTS * 2); // (hash, entry + 1) pairs
  private hashedKeys: string[] = [];
  private hashedTerms: (string | null)[] = [];
  // Key of the last lookup, for storeMissed(): a packed key, or -1 and a hash.
  private lastPacked = -1;
  private lastHash = 0;

  /** The cached term of text[start, end), or undefined when it is not cached. */
  lookup(text: string, start: number, end: number): string | null | undefined {
    let packed = -1;
    if (end - start <= MAX_PACKED_LENGTH) {
      packed = 0;
      for (let i = start; i < end; i++) {
        const c = text.charCodeAt(i);
        if (c >= 0x80 || c === 0) {
          packed = -1;
          break;
        }
        packed = packed * 128 + c;
      }
    }
    this.lastPacked = packed;
    if (packed > 0) {
      const keys = this.packedKeys;
      const mask = keys.length - 1;
      for (let at = packedSlot(packed) & mask; ; at = (at + 1) & mask) {
        const key = keys[at];
        if (key === packed) return this.packedTerms[this.packedEntries[at]];
        if (key === 0) return undefined;
      }
    }
    let hash = 0x811c9dc5;
    for (let i = start; i < end; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
    this.lastHash = hash;
    const slots = this.hashedSlots;
    const mask = slots.length - 2;
    for (let at = (hash << 1) & mask; ; at = (at + 2) & mask) {
      const entry = slots[at + 1] - 1;
      if (entry < 0) return undefined;
      if (slots[at] === hash) {
        const key = this.hashedKeys[entry];
        if (key.length === end - start && sameChars(key, text, start)) return this.hashedTerms[entry];
      }
    }
  }

  /** Stores the term of the token whose lookup() just missed. */
  storeMissed(raw: string, term: string | null): void {
    if (this.lastPacked > 0) this.storePacked(this.lastPacked, term);
    else if (raw.length <= MAX_CACHED_TOKEN_LENGTH) this.storeHashed(raw, this.lastHash, term);
  }

  private storePacked(packed: number, term: string | null): void {
    if (this.packedTerms.length >= MAX_CACHE_ENTRIES) {
      this.packedKeys = new Float64Array(INITIAL_CACHE_SLOTS);
      this.packedEntries = new Int32Array(INITIAL_CACHE_SLOTS);
      this.packedTerms = [];
    } else if ((this.packedTerms.length + 1) * 2 > this.packedKeys.length) {
      const keys = this.packedKeys;
      const entries = this.packedEntries;
      this.packedKeys = new Float64Array(keys.length * 2);
      this.packedEntries = new Int32Array(keys.length * 2);
      for (let at = 0; at < keys.length; at++) if (keys[at] !== 0) this.placePacked(keys[at], entries[at]);
    }
    this.packedTerms.push(term);
    this.placePacked(packed, this.packedTerms.length - 1);
  }

  private placePacked(packed: number, entry: number): void {
    const keys = this.packedKeys;
    const mask = keys.length - 1;
    let at = packedSlot(packed) & mask;
    while (keys[at] !== 0) at = (at + 1) & mask;
    keys[at] = packed;
    this.packedEntries[at] = entry;
  }

  private storeHashed(raw: string, hash: number, term: string | null): void {
    if (this.hashedKeys.length >= MAX_CACHE_ENTRIES) {
      this.hashedSlots = new Int32Array(INITIAL_CACHE_SLOTS * 2);
      this.hashedKeys = [];
      this.hashedTerms = [];
    } else if ((this.hashedKeys.length + 1) * 4 > this.hashedSlots.length) {
      const old = this.hashedSlots;
      this.hashedSlots = new Int32Array(old.length * 2);
      for (let at = 0; at < old.length; at += 2) if (old[at + 1] !== 0) this.placeHashed(old[at], old[at + 1]);
    }
    this.hashedKeys.push(raw);
    this.hashedTerms.push(term);
    this.placeHashed(hash, this.hashedKeys.length);
  }

  private placeHashed(hash: number, entryPlusOne: number): void {
    const slots = this.hashedSlots;
    const mask = slots.length - 2;
    let at = (hash << 1) & mask;
    while (slots[at + 1] !== 0) at = (at + 2) & mask;
    slots[at] = hash;
    slots[at + 1] = entryPlusOne;
  }
}

/**
 * A standalone copy of text[start, end). A plain slice may share the whole text's storage, and
 * neither the cache nor the returned terms should keep documents alive.
 */
function copyChars(text: string, start: number, end: number): string {
  codeBuffer.length = end - start;
  for (let i = start; i < end; i++) codeBuffer[i - start] = text.charCodeAt(i);
  return String.fromCharCode.apply(null, codeBuffer);
}

const codeBuffer: number[] = [];

function packedSlot(packed: number): number {
  const low = packed % 0x1000000 | 0;
  const high = (packed / 0x1000000) | 0;
  return Math.imul(low ^ Math.imul(high, 0x27d4eb2d), 0x9e3779b1) >>> 7;
}

function sameChars(key: string, text: string, start: number): boolean {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) !== text.charCodeAt(start + i)) return false;
  return true;
}
