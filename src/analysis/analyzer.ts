/** Turns text into the sequence of index terms (in order, duplicates kept). */
export interface Analyzer {
  /** Stable identifier, e.g. stored with an index so that queries use the same analysis. */
  readonly name: string;
  analyze(text: string): string[];
}
