/**
 * Lucene 8's StandardAnalyzer with default settings, which is also OpenSearch's "standard"
 * analyzer: StandardTokenizer -> LowerCaseFilter. No stop words (Lucene 8 removed them from its
 * default) and no stemming.
 */
import type { Analyzer } from './analyzer.js';
import { lowerCaseCodePoints } from './english-analyzer.js';
import { StandardTokenizer, type StandardTokenizerOptions } from './standard-tokenizer.js';

export class StandardAnalyzer implements Analyzer {
  readonly name = 'standard';
  private readonly tokenizer: StandardTokenizer;

  constructor(options: StandardTokenizerOptions = {}) {
    this.tokenizer = new StandardTokenizer(options);
  }

  analyze(text: string): string[] {
    const terms: string[] = [];
    this.analyzeSpans(text, (term) => terms.push(term));
    return terms;
  }

  /** Each term with the UTF-16 offsets [start, end) of its token in `text`. */
  analyzeSpans(text: string, visit: (term: string, start: number, end: number) => void): void {
    if (typeof text !== 'string' || text.length === 0) return;
    const tokenizer = this.tokenizer;
    tokenizer.reset(text);
    while (tokenizer.next()) visit(lowerCaseCodePoints(text.slice(tokenizer.start, tokenizer.end)), tokenizer.start, tokenizer.end);
  }
}
