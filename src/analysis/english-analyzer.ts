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

  constructor(options: StandardTokenizerOptions = {}) {
    this.tokenizer = new StandardTokenizer(options);
  }

  analyze(text: string): string[] {
    const terms: string[] = [];
    if (typeof text !== 'string' || text.length === 0) return terms;
    const tokenizer = this.tokenizer;
    tokenizer.reset(text);
    while (tokenizer.next()) {
      const start = tokenizer.start;
      let end = tokenizer.end;
      // EnglishPossessiveFilter: drop a trailing 's / 'S (three apostrophe variants)
      if (end - start >= 2) {
        const last = text.charCodeAt(end - 1);
        if (last === 0x73 || last === 0x53) {
          const quote = text.charCodeAt(end - 2);
          if (quote === APOSTROPHE || quote === RIGHT_SINGLE_QUOTATION_MARK || quote === FULLWIDTH_APOSTROPHE) end -= 2;
        }
      }
      const term = lowerCaseCodePoints(text.slice(start, end));
      if (ENGLISH_STOP_WORDS.has(term)) continue;
      terms.push(this.stemmer.stem(term));
    }
    return terms;
  }
}
