/**
 * Word-break tokenization that reproduces the token stream of Lucene 8's StandardTokenizer.
 *
 * Lucene's StandardTokenizer is a JFlex scanner over the Unicode 9.0 word-break rules of UAX#29, plus
 * Emoji 11 sequences, that keeps only segments containing letters, digits, ideographs, South-East-Asian
 * script runs or emoji. This module re-implements the grammar as hand-written matchers (one per rule,
 * longest match wins) over a character class table that was derived from Lucene's own behaviour
 * (see scripts/lucene-golden/generate-char-classes.sh).
 *
 * Two details of Lucene's scanner are reproduced deliberately because they change its tokens:
 * - It reads its input through a buffer of maxTokenLength (255) chars, refilled relative to the
 *   current token's start, and a token cannot extend past the buffer's end. That is how words longer
 *   than 255 chars get split (one char earlier when a full buffer ends on a held-back high surrogate).
 * - When a refill's last char is a lone high surrogate at the very end of the input, the scanner
 *   reports end of input at once, so such inputs lose their last tokens (short ones lose all).
 * Both follow from tracking the scanner's buffer window over the (fully available) string.
 */

import { CHAR_CLASS_RANGES } from './standard-tokenizer-classes.js';
import { CodedError } from '../common/errors.js';

/** Word_Break kind of a code point (low 4 bits of its class). */
export const WordBreak = {
  Other: 0,
  ALetter: 1,
  HebrewLetter: 2,
  Numeric: 3,
  Katakana: 4,
  ExtendNumLet: 5,
  MidLetter: 6,
  MidNumLet: 7,
  MidNum: 8,
  SingleQuote: 9,
  DoubleQuote: 10,
  /** Extend or Format. */
  Extend: 11,
  ZWJ: 12,
  RegionalIndicator: 13,
} as const;

export const WORD_BREAK_MASK = 0xf;

/** Properties that can accompany any Word_Break kind. */
export const CharFlag = {
  /** Han or Hiragana script: each char is a token of its own. */
  Ideographic: 0x10,
  /** Line_Break=Complex_Context (Thai, Lao, Myanmar, Khmer ...): runs stay together. */
  ComplexContext: 0x20,
  /** Emoji character that can start an emoji sequence. */
  Emoji: 0x40,
  EmojiModifierBase: 0x80,
  EmojiModifier: 0x100,
} as const;

/** Invalid analysis configuration; `code` is stable for callers to branch on. */
export class AnalysisError extends CodedError<'INVALID_ANALYZER_OPTION'> {}

/** Longest token Lucene's StandardTokenizer emits by default (also its scanner buffer size). */
export const DEFAULT_MAX_TOKEN_LENGTH = 255;

/**
 * Maps code points to class values (Word_Break kind | flags). BMP lookups are a direct array index;
 * supplementary code points are found by binary search over sorted, disjoint ranges.
 */
export class CharClassTable {
  readonly bmp: Uint16Array;
  private readonly supplementaryStarts: Int32Array;
  private readonly supplementaryEnds: Int32Array;
  private readonly supplementaryClasses: Uint16Array;

  /** @param ranges flat triples (first code point, last code point, class); unlisted code points are Other. */
  constructor(ranges: ArrayLike<number>) {
    if (ranges.length % 3 !== 0) throw new Error('char class ranges must be triples');
    this.bmp = new Uint16Array(0x10000);
    const starts: number[] = [];
    const ends: number[] = [];
    const classes: number[] = [];
    for (let i = 0; i < ranges.length; i += 3) {
      const first = ranges[i];
      const last = ranges[i + 1];
      const value = ranges[i + 2];
      for (let cp = first; cp <= last && cp < 0x10000; cp++) this.bmp[cp] = value;
      if (last >= 0x10000) {
        starts.push(Math.max(first, 0x10000));
        ends.push(last);
        classes.push(value);
      }
    }
    const order = starts.map((_, i) => i).sort((a, b) => starts[a] - starts[b]);
    this.supplementaryStarts = Int32Array.from(order, (i) => starts[i]);
    this.supplementaryEnds = Int32Array.from(order, (i) => ends[i]);
    this.supplementaryClasses = Uint16Array.from(order, (i) => classes[i]);
  }

  classOf(cp: number): number {
    if (cp < 0x10000) return this.bmp[cp];
    const starts = this.supplementaryStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (starts[mid] <= cp) lo = mid + 1;
      else hi = mid - 1;
    }
    return hi >= 0 && cp <= this.supplementaryEnds[hi] ? this.supplementaryClasses[hi] : 0;
  }
}

let defaultTable: CharClassTable | undefined;

/** The character classes observed from Lucene 8.7's StandardTokenizer (built on first use). */
export function luceneCharClassTable(): CharClassTable {
  defaultTable ??= new CharClassTable(CHAR_CLASS_RANGES);
  return defaultTable;
}

// ---------------------------------------------------------------------------------------------------
// Word rule (UAX#29 WB5-WB13b as written in Lucene's grammar), as a DFA over Word_Break kinds.
// Extend/Format/ZWJ chars never change the state once a token has started (WB4).

const DEAD = 0xff;
const W_START = 0;
const W_LEADING_UNDERSCORE = 1; // ExtendNumLet+ before any letter or digit
const W_KATAKANA = 2;
const W_LETTER = 3;
const W_HEBREW = 4;
const W_NUMBER = 5;
const W_AFTER_CONNECTOR = 6; // letters/digits followed by ExtendNumLet+
const W_HEBREW_QUOTE = 7; // Hebrew letter + single quote
const W_HEBREW_GERSHAYIM = 8; // Hebrew letter + double quote + Hebrew letter
const W_LETTER_MID = 9; // letter + MidLetter-like char, needs a letter next
const W_NUMBER_MID = 10; // digit + MidNum-like char, needs a digit next
const W_HEBREW_DOUBLE_QUOTE = 11; // Hebrew letter + double quote, needs a Hebrew letter next
const WORD_STATE_COUNT = 12;

const WORD_ACCEPTING = new Uint8Array(WORD_STATE_COUNT);
for (const s of [W_KATAKANA, W_LETTER, W_HEBREW, W_NUMBER, W_AFTER_CONNECTOR, W_HEBREW_QUOTE, W_HEBREW_GERSHAYIM]) {
  WORD_ACCEPTING[s] = 1;
}

const WORD_TRANSITIONS = new Uint8Array(WORD_STATE_COUNT * 16).fill(DEAD);
{
  const WB = WordBreak;
  const set = (state: number, kinds: number[], next: number): void => {
    for (const kind of kinds) WORD_TRANSITIONS[(state << 4) | kind] = next;
  };
  const startsGroup = (state: number): void => {
    set(state, [WB.ALetter], W_LETTER);
    set(state, [WB.HebrewLetter], W_HEBREW);
    set(state, [WB.Numeric], W_NUMBER);
  };
  for (const state of [W_START, W_LEADING_UNDERSCORE, W_AFTER_CONNECTOR]) {
    startsGroup(state);
    set(state, [WB.Katakana], W_KATAKANA);
  }
  set(W_START, [WB.ExtendNumLet], W_LEADING_UNDERSCORE);
  set(W_LEADING_UNDERSCORE, [WB.ExtendNumLet], W_LEADING_UNDERSCORE);
  set(W_AFTER_CONNECTOR, [WB.ExtendNumLet], W_AFTER_CONNECTOR);

  set(W_KATAKANA, [WB.Katakana], W_KATAKANA);
  set(W_KATAKANA, [WB.ExtendNumLet], W_AFTER_CONNECTOR);

  for (const state of [W_LETTER, W_HEBREW, W_NUMBER, W_HEBREW_QUOTE, W_HEBREW_GERSHAYIM]) {
    startsGroup(state);
    set(state, [WB.ExtendNumLet], W_AFTER_CONNECTOR);
  }
  set(W_LETTER, [WB.MidLetter, WB.MidNumLet, WB.SingleQuote], W_LETTER_MID);
  set(W_HEBREW, [WB.MidLetter, WB.MidNumLet], W_LETTER_MID);
  // After a Hebrew letter a single quote both completes a token (WB7a) and may join a following letter.
  set(W_HEBREW, [WB.SingleQuote], W_HEBREW_QUOTE);
  set(W_HEBREW, [WB.DoubleQuote], W_HEBREW_DOUBLE_QUOTE);
  set(W_NUMBER, [WB.MidNum, WB.MidNumLet, WB.SingleQuote], W_NUMBER_MID);

  // A Hebrew letter reached through a mid char belongs to the letter sequence, not to a new group,
  // so it cannot take WB7a's trailing single quote or WB7b's double quote.
  set(W_LETTER_MID, [WB.ALetter, WB.HebrewLetter], W_LETTER);
  set(W_NUMBER_MID, [WB.Numeric], W_NUMBER);
  set(W_HEBREW_DOUBLE_QUOTE, [WB.HebrewLetter], W_HEBREW_GERSHAYIM);
}

// ---------------------------------------------------------------------------------------------------
// Emoji rule (TR#51 emoji_sequence as written in Lucene's grammar), simulated as an NFA bit set.
// "Element" = emoji char with optional presentation selector, or modifier sequence; elements are
// joined by ZWJ; only the first element may be followed by a tag sequence.

const E_FIRST_LEADING_ZWJ = 1 << 0;
const E_FIRST_CHAR = 1 << 1;
const E_FIRST_PRESENTATION = 1 << 2;
const E_FIRST_MODIFIER_BASE = 1 << 3;
const E_FIRST_MODIFIER = 1 << 4;
const E_NEXT_LEADING_ZWJ = 1 << 5;
const E_NEXT_CHAR = 1 << 6;
const E_NEXT_PRESENTATION = 1 << 7;
const E_NEXT_MODIFIER_BASE = 1 << 8;
const E_NEXT_MODIFIER = 1 << 9;
const E_JOINER = 1 << 10;
const E_TAG_SPEC = 1 << 11;
const E_TAG_END = 1 << 12;
const E_KEYCAP_BASE = 1 << 13;
const E_KEYCAP_BASE_SELECTOR = 1 << 14;
const E_KEYCAP = 1 << 15;
const E_REGIONAL_ONE = 1 << 16;
const E_REGIONAL_PAIR = 1 << 17;

const E_FIRST_COMPLETE = E_FIRST_CHAR | E_FIRST_PRESENTATION | E_FIRST_MODIFIER;
const E_NEXT_COMPLETE = E_NEXT_CHAR | E_NEXT_PRESENTATION | E_NEXT_MODIFIER;
const E_ACCEPTING = E_FIRST_COMPLETE | E_NEXT_COMPLETE | E_TAG_END | E_KEYCAP | E_REGIONAL_PAIR;

const TEXT_PRESENTATION_SELECTOR = 0xfe0e;
const EMOJI_PRESENTATION_SELECTOR = 0xfe0f;
const COMBINING_KEYCAP = 0x20e3;
const TAG_SPEC_FIRST = 0xe0020;
const TAG_SPEC_LAST = 0xe007e;
const TAG_TERM = 0xe007f;

function isKeycapBase(cp: number): boolean {
  return (cp >= 0x30 && cp <= 0x39) || cp === 0x23 || cp === 0x2a;
}

/** NFA states entered by the first char of an emoji element. */
function elementStart(cls: number, first: boolean): number {
  let states = 0;
  if ((cls & WORD_BREAK_MASK) === WordBreak.ZWJ) states |= first ? E_FIRST_LEADING_ZWJ : E_NEXT_LEADING_ZWJ;
  if (cls & CharFlag.Emoji) states |= first ? E_FIRST_CHAR : E_NEXT_CHAR;
  if (cls & CharFlag.EmojiModifierBase) states |= first ? E_FIRST_MODIFIER_BASE : E_NEXT_MODIFIER_BASE;
  if (cls & CharFlag.EmojiModifier) states |= first ? E_FIRST_MODIFIER : E_NEXT_MODIFIER;
  return states;
}

function emojiStep(states: number, cp: number, cls: number): number {
  const wb = cls & WORD_BREAK_MASK;
  const extendLike = wb === WordBreak.Extend || wb === WordBreak.ZWJ;
  const isZwj = wb === WordBreak.ZWJ;
  // Extend/Format/ZWJ minus the two presentation selectors
  const extendSansSelector = extendLike && cp !== TEXT_PRESENTATION_SELECTOR && cp !== EMOJI_PRESENTATION_SELECTOR;
  let next = 0;

  if (states & E_FIRST_LEADING_ZWJ) {
    if (isZwj) next |= E_FIRST_LEADING_ZWJ;
    if (cls & CharFlag.Emoji) next |= E_FIRST_CHAR;
    if (cls & CharFlag.EmojiModifierBase) next |= E_FIRST_MODIFIER_BASE;
  }
  if (states & E_NEXT_LEADING_ZWJ) {
    if (isZwj) next |= E_NEXT_LEADING_ZWJ;
    if (cls & CharFlag.Emoji) next |= E_NEXT_CHAR;
    if (cls & CharFlag.EmojiModifierBase) next |= E_NEXT_MODIFIER_BASE;
  }
  if (states & E_FIRST_CHAR) {
    if (extendSansSelector) next |= E_FIRST_CHAR;
    if (cp === EMOJI_PRESENTATION_SELECTOR) next |= E_FIRST_PRESENTATION;
  }
  if (states & E_NEXT_CHAR) {
    if (extendSansSelector) next |= E_NEXT_CHAR;
    if (cp === EMOJI_PRESENTATION_SELECTOR) next |= E_NEXT_PRESENTATION;
  }
  if (states & E_FIRST_MODIFIER_BASE) {
    if (extendSansSelector) next |= E_FIRST_MODIFIER_BASE;
    if (cls & CharFlag.EmojiModifier) next |= E_FIRST_MODIFIER;
  }
  if (states & E_NEXT_MODIFIER_BASE) {
    if (extendSansSelector) next |= E_NEXT_MODIFIER_BASE;
    if (cls & CharFlag.EmojiModifier) next |= E_NEXT_MODIFIER;
  }
  if (states & E_FIRST_MODIFIER && extendSansSelector) next |= E_FIRST_MODIFIER;
  if (states & E_NEXT_MODIFIER && extendSansSelector) next |= E_NEXT_MODIFIER;
  if (states & (E_FIRST_COMPLETE | E_NEXT_COMPLETE) && isZwj) next |= E_JOINER;
  if (states & E_JOINER) next |= elementStart(cls, false);
  const isTagSpec = cp >= TAG_SPEC_FIRST && cp <= TAG_SPEC_LAST;
  if (states & (E_FIRST_COMPLETE | E_TAG_SPEC)) {
    if (isTagSpec) next |= E_TAG_SPEC;
  }
  if (states & E_TAG_SPEC && cp === TAG_TERM) next |= E_TAG_END;
  if (states & E_KEYCAP_BASE) {
    if (extendSansSelector) next |= E_KEYCAP_BASE;
    if (cp === EMOJI_PRESENTATION_SELECTOR) next |= E_KEYCAP_BASE_SELECTOR;
    if (cp === COMBINING_KEYCAP) next |= E_KEYCAP;
  }
  if (states & E_KEYCAP_BASE_SELECTOR && cp === COMBINING_KEYCAP) next |= E_KEYCAP;
  if (states & E_KEYCAP && extendSansSelector) next |= E_KEYCAP;
  if (states & E_REGIONAL_ONE) {
    if (extendLike) next |= E_REGIONAL_ONE;
    if (wb === WordBreak.RegionalIndicator) next |= E_REGIONAL_PAIR;
  }
  if (states & E_REGIONAL_PAIR && extendLike) next |= E_REGIONAL_PAIR;
  return next;
}

const EMOJI_START_FLAGS = CharFlag.Emoji | CharFlag.EmojiModifierBase | CharFlag.EmojiModifier;

export interface StandardTokenizerOptions {
  /** Scanner buffer size, which is also the longest token (Lucene's maxTokenLength). Default 255. */
  maxTokenLength?: number;
  /** Character classes; defaults to the table observed from Lucene 8.7. */
  charClasses?: CharClassTable;
}

/**
 * Streaming tokenizer: `reset(text)`, then `next()` until it returns false; after each successful
 * `next()` the token is `text.slice(start, end)` (UTF-16 offsets). No allocation per token.
 */
export class StandardTokenizer {
  /** Start offset (inclusive) of the current token. */
  start = 0;
  /** End offset (exclusive) of the current token. */
  end = 0;

  private readonly classes: CharClassTable;
  private readonly bmpClasses: Uint16Array;
  private readonly bufferSize: number;

  private text = '';
  private length = 0;
  private position = 0;
  // Emulated scanner buffer window, in absolute offsets of `text`.
  private bufferStart = 0;
  private endRead = 0;
  private heldHighSurrogate = 0;
  private readerPosition = 0;
  private atEndOfInput = false;
  // Per token: how far the scanner may look, and whether a refill reported end of input.
  private tokenStart = 0;
  private visibleEnd = 0;
  private tokenSawEnd = false;

  constructor(options: StandardTokenizerOptions = {}) {
    const maxTokenLength = options.maxTokenLength ?? DEFAULT_MAX_TOKEN_LENGTH;
    if (!Number.isInteger(maxTokenLength) || maxTokenLength < 1 || maxTokenLength > 1024 * 1024) {
      throw new AnalysisError('INVALID_ANALYZER_OPTION', 'maxTokenLength must be an integer in [1, 1048576]');
    }
    this.bufferSize = maxTokenLength;
    this.classes = options.charClasses ?? luceneCharClassTable();
    this.bmpClasses = this.classes.bmp;
  }

  reset(text: string): void {
    this.text = typeof text === 'string' ? text : '';
    this.length = this.text.length;
    this.position = 0;
    this.bufferStart = 0;
    this.endRead = 0;
    this.heldHighSurrogate = 0;
    this.readerPosition = 0;
    this.atEndOfInput = false;
    this.start = 0;
    this.end = 0;
  }

  /** All tokens of `text`, in order. */
  tokenize(text: string): string[] {
    const tokens: string[] = [];
    this.reset(text);
    while (this.next()) tokens.push(this.text.slice(this.start, this.end));
    return tokens;
  }

  /** Advances to the next token; false at end of input. */
  next(): boolean {
    if (this.atEndOfInput) return false;
    const text = this.text;
    for (;;) {
      const p = this.position;
      this.tokenStart = p;
      this.tokenSawEnd = false;
      this.visibleEnd = this.endRead;
      if (p >= this.visibleEnd && !this.extendWindow(p)) {
        this.atEndOfInput = true;
        return false;
      }
      const c = text.charCodeAt(p);
      let best = -1;
      if (c < 0x80) {
        const cls = this.bmpClasses[c];
        if (cls === WordBreak.ALetter) {
          best = this.matchAsciiWord(p, W_LETTER);
        } else if (cls === WordBreak.Numeric) {
          best = this.matchAsciiWord(p, W_NUMBER);
          // a digit can also start a keycap emoji, which needs a non-ASCII char next
          if (p + 1 < this.length && text.charCodeAt(p + 1) >= 0x80) best = Math.max(best, this.matchEmoji(p, c, cls));
        } else if (cls !== 0 || c === 0x23 || c === 0x2a) {
          best = this.matchGeneral(p, c, cls);
        }
        if (best > p) {
          this.start = p;
          this.end = best;
          this.position = best;
          return true;
        }
        this.position = p + 1;
        continue;
      }
      let cp = c;
      let size = 1;
      if (c >= 0xd800 && c <= 0xdbff && p + 1 < this.endRead) {
        const low = text.charCodeAt(p + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          size = 2;
        }
      }
      const cls = cp < 0x10000 ? this.bmpClasses[cp] : this.classes.classOf(cp);
      best = cls === 0 ? -1 : this.matchGeneral(p, cp, cls);
      if (best > p) {
        this.start = p;
        this.end = best;
        this.position = best;
        return true;
      }
      this.position = p + size;
    }
  }

  /** Longest match of any rule at p, whose first code point is cp with class cls; -1 if none. */
  private matchGeneral(p: number, cp: number, cls: number): number {
    const wb = cls & WORD_BREAK_MASK;
    let best = -1;
    if (
      wb === WordBreak.ALetter ||
      wb === WordBreak.HebrewLetter ||
      wb === WordBreak.Numeric ||
      wb === WordBreak.Katakana ||
      wb === WordBreak.ExtendNumLet
    ) {
      best = this.matchWord(p);
    }
    if (cls & EMOJI_START_FLAGS || wb === WordBreak.ZWJ || wb === WordBreak.RegionalIndicator || isKeycapBase(cp)) {
      best = Math.max(best, this.matchEmoji(p, cp, cls));
    }
    if (cls & CharFlag.ComplexContext) best = Math.max(best, this.matchRun(p, CharFlag.ComplexContext, true));
    if (cls & CharFlag.Ideographic) best = Math.max(best, this.matchRun(p, CharFlag.Ideographic, false));
    return best;
  }

  /**
   * Makes position `pos` (== the current window end) readable by emulating a scanner buffer refill.
   * Returns false when the scanner would report end of input at `pos` for the current token.
   */
  private extendWindow(pos: number): boolean {
    if (this.tokenSawEnd) return false;
    if (pos < this.endRead) {
      this.visibleEnd = this.endRead;
      return true;
    }
    if (this.refill()) {
      this.tokenSawEnd = true;
      return false;
    }
    this.visibleEnd = this.endRead;
    return pos < this.endRead;
  }

  /** One JFlex zzRefill(); returns true where the scanner would see end of input. */
  private refill(): boolean {
    if (this.tokenStart > this.bufferStart) {
      this.endRead += this.heldHighSurrogate;
      this.heldHighSurrogate = 0;
      this.bufferStart = this.tokenStart;
    }
    const requested = this.bufferSize - (this.endRead - this.bufferStart) - this.heldHighSurrogate;
    if (requested <= 0) return true;
    const available = this.length - this.readerPosition;
    if (available <= 0) return true;
    const read = Math.min(requested, available);
    this.readerPosition += read;
    this.endRead += read;
    const last = this.text.charCodeAt(this.endRead - 1);
    if (last >= 0xd800 && last <= 0xdbff) {
      if (read === requested) {
        this.endRead--;
        this.heldHighSurrogate = 1;
        if (read === 1) return true;
      } else {
        // The scanner reads one more char to complete the pair; at end of input it gives up.
        if (this.readerPosition >= this.length) return true;
        this.readerPosition++;
        this.endRead++;
      }
    }
    return false;
  }

  /** Word rule, entered on an ASCII letter or digit; stays on the ASCII loop while it can. */
  private matchAsciiWord(p: number, firstState: number): number {
    const text = this.text;
    const classes = this.bmpClasses;
    let state = firstState;
    let pos = p + 1;
    let lastAccept = pos;
    for (;;) {
      if (pos >= this.visibleEnd && !this.extendWindow(pos)) return lastAccept;
      const c = text.charCodeAt(pos);
      if (c >= 0x80) return this.continueWord(pos, state, lastAccept);
      const next = WORD_TRANSITIONS[(state << 4) | (classes[c] & WORD_BREAK_MASK)];
      if (next === DEAD) return lastAccept;
      state = next;
      pos++;
      if (WORD_ACCEPTING[state] === 1) lastAccept = pos;
    }
  }

  private matchWord(p: number): number {
    return this.continueWord(p, W_START, -1);
  }

  /** Runs the word DFA from `pos` in `state`; returns the end of the longest accepted prefix. */
  private continueWord(pos: number, state: number, lastAccept: number): number {
    const text = this.text;
    for (;;) {
      if (pos >= this.visibleEnd && !this.extendWindow(pos)) return lastAccept;
      let cp = text.charCodeAt(pos);
      let size = 1;
      if (cp >= 0xd800 && cp <= 0xdbff && pos + 1 < this.endRead) {
        const low = text.charCodeAt(pos + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = ((cp - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          size = 2;
        }
      }
      const wb = (cp < 0x10000 ? this.bmpClasses[cp] : this.classes.classOf(cp)) & WORD_BREAK_MASK;
      if (wb === WordBreak.Extend || wb === WordBreak.ZWJ) {
        if (state === W_START) return lastAccept;
        pos += size;
        if (WORD_ACCEPTING[state] === 1) lastAccept = pos;
        continue;
      }
      const next = WORD_TRANSITIONS[(state << 4) | wb];
      if (next === DEAD) return lastAccept;
      state = next;
      pos += size;
      if (WORD_ACCEPTING[state] === 1) lastAccept = pos;
    }
  }

  /** Emoji rule at p (first code point cp, class cls); -1 if no emoji sequence starts here. */
  private matchEmoji(p: number, cp: number, cls: number): number {
    const text = this.text;
    let states = elementStart(cls, true);
    if (isKeycapBase(cp)) states |= E_KEYCAP_BASE;
    if ((cls & WORD_BREAK_MASK) === WordBreak.RegionalIndicator) states |= E_REGIONAL_ONE;
    let pos = p + (cp >= 0x10000 ? 2 : 1);
    let lastAccept = states & E_ACCEPTING ? pos : -1;
    // A completed tag sequence has no way to continue; like the scanner, stop without looking further
    // (looking ahead can trigger a buffer refill, which shifts the scanner's window).
    while (states !== 0 && states !== E_TAG_END) {
      if (pos >= this.visibleEnd && !this.extendWindow(pos)) break;
      let c = text.charCodeAt(pos);
      let size = 1;
      if (c >= 0xd800 && c <= 0xdbff && pos + 1 < this.endRead) {
        const low = text.charCodeAt(pos + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          c = ((c - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          size = 2;
        }
      }
      states = emojiStep(states, c, c < 0x10000 ? this.bmpClasses[c] : this.classes.classOf(c));
      pos += size;
      if (states & E_ACCEPTING) lastAccept = pos;
    }
    return lastAccept;
  }

  /**
   * A char carrying `flag` followed by Extend/Format/ZWJ chars; with `repeat`, further such units.
   * Serves the South-East-Asian run rule and the one-ideograph-per-token rule.
   */
  private matchRun(p: number, flag: number, repeat: boolean): number {
    const text = this.text;
    let pos = p;
    let first = true;
    for (;;) {
      if (pos >= this.visibleEnd && !this.extendWindow(pos)) break;
      let cp = text.charCodeAt(pos);
      let size = 1;
      if (cp >= 0xd800 && cp <= 0xdbff && pos + 1 < this.endRead) {
        const low = text.charCodeAt(pos + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          cp = ((cp - 0xd800) << 10) + (low - 0xdc00) + 0x10000;
          size = 2;
        }
      }
      const cls = cp < 0x10000 ? this.bmpClasses[cp] : this.classes.classOf(cp);
      const wb = cls & WORD_BREAK_MASK;
      if (first) {
        first = false;
      } else if (wb !== WordBreak.Extend && wb !== WordBreak.ZWJ && !(repeat && cls & flag)) {
        break;
      }
      pos += size;
    }
    return pos > p ? pos : -1;
  }
}
