import type { SparseEncoder } from '../encoders/encoder.js';
import { chooseFragments, renderFragment, type FragmentOptions, type TextMatch } from '../highlight/fragments.js';
import type { StoredDocument } from '../store/store.js';
import type { TermDictionary } from './dictionary.js';
import { SparrowError } from '../common/errors.js';

/** What a search request asks of highlighting (every member optional; see HIGHLIGHT_DEFAULTS). */
export interface HighlightRequest {
  /** Stored text fields to highlight (default: every text field the encoder reads). */
  readonly fields?: readonly string[];
  readonly preTag?: string;
  readonly postTag?: string;
  /** "html" (default) escapes the stored text around the tags; "none" leaves it as it is. */
  readonly encoder?: 'html' | 'none';
  readonly fragmentSize?: number;
  readonly numberOfFragments?: number;
  readonly order?: 'position' | 'score';
  readonly noMatchSize?: number;
  /** "tags" (default): fragments as strings with tags; "offsets": fragments as offsets into the stored text. */
  readonly format?: 'tags' | 'offsets';
}

export const HIGHLIGHT_DEFAULTS = {
  preTag: '<em>',
  postTag: '</em>',
  encoder: 'html',
  fragmentSize: 150,
  numberOfFragments: 3,
  order: 'position',
  noMatchSize: 0,
  format: 'tags',
} as const;

/** The most characters a fragment may ask for, and fragments a field may return. */
export const MAX_FRAGMENT_SIZE = 10_000;
export const MAX_FRAGMENTS = 100;

/** A fragment in the "offsets" format: [start, end) of the stored field, and the matched tokens in it. */
export interface OffsetFragment {
  readonly start: number;
  readonly end: number;
  readonly matches: { readonly start: number; readonly end: number; readonly term: string }[];
}

export type HitHighlight = Record<string, string[] | OffsetFragment[]>;

type ResolvedHighlight = Required<Omit<HighlightRequest, 'fields'>> & { readonly fields: readonly string[] | undefined };

function wholeNumber(value: unknown, name: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new SparrowError('INVALID_HIGHLIGHT', `highlight.${name} must be a whole number from 0 to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new SparrowError('INVALID_HIGHLIGHT', `highlight.${name} must be ${allowed.map((a) => JSON.stringify(a)).join(' or ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}

function tag(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length > 100) throw new SparrowError('INVALID_HIGHLIGHT', `highlight.${name} must be a string of at most 100 characters`);
  return value;
}

/** The request's highlight settings with defaults filled in; one validation for every door (HTTP, CLI). */
export function resolveHighlight(request: HighlightRequest): ResolvedHighlight {
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    throw new SparrowError('INVALID_HIGHLIGHT', 'highlight must be an object, e.g. {"fields": ["text"]}');
  }
  const known = new Set(['fields', ...Object.keys(HIGHLIGHT_DEFAULTS)]);
  for (const key of Object.keys(request)) {
    if (!known.has(key)) throw new SparrowError('INVALID_HIGHLIGHT', `unknown highlight setting ${JSON.stringify(key)}; known: ${[...known].join(', ')}`);
  }
  const fields = request.fields;
  if (fields !== undefined && (!Array.isArray(fields) || fields.some((f) => typeof f !== 'string'))) {
    throw new SparrowError('INVALID_HIGHLIGHT', 'highlight.fields must be a list of stored field names');
  }
  return {
    fields,
    preTag: tag(request.preTag ?? HIGHLIGHT_DEFAULTS.preTag, 'preTag'),
    postTag: tag(request.postTag ?? HIGHLIGHT_DEFAULTS.postTag, 'postTag'),
    encoder: oneOf(request.encoder ?? HIGHLIGHT_DEFAULTS.encoder, 'encoder', ['html', 'none']),
    fragmentSize: wholeNumber(request.fragmentSize ?? HIGHLIGHT_DEFAULTS.fragmentSize, 'fragmentSize', MAX_FRAGMENT_SIZE),
    numberOfFragments: wholeNumber(request.numberOfFragments ?? HIGHLIGHT_DEFAULTS.numberOfFragments, 'numberOfFragments', MAX_FRAGMENTS),
    order: oneOf(request.order ?? HIGHLIGHT_DEFAULTS.order, 'order', ['position', 'score']),
    noMatchSize: wholeNumber(request.noMatchSize ?? HIGHLIGHT_DEFAULTS.noMatchSize, 'noMatchSize', MAX_FRAGMENT_SIZE),
    format: oneOf(request.format ?? HIGHLIGHT_DEFAULTS.format, 'format', ['tags', 'offsets']),
  };
}

/**
 * Highlights search hits with what actually matched: a token of a stored field is marked when the
 * term the encoder makes of it (BM25's stemmed term, SPLADE's word piece) is in both the query's
 * vector and the document's stored vector. Terms that matched only through expansion have no
 * token to mark; explain lists them.
 */
export class Highlighter {
  private readonly settings: ResolvedHighlight;
  private readonly fragmentOptions: FragmentOptions;
  /** Query term id -> its weight in the query as scored (idf folded in for BM25). */
  private readonly queryWeights: Map<number, number>;
  readonly warnings: string[] = [];

  constructor(
    request: HighlightRequest,
    private readonly encoder: SparseEncoder,
    private readonly dictionary: TermDictionary,
    query: { readonly termIds: ArrayLike<number>; readonly weights: ArrayLike<number> },
  ) {
    this.settings = resolveHighlight(request);
    this.fragmentOptions = this.settings;
    this.queryWeights = new Map();
    for (let i = 0; i < query.termIds.length; i++) if (query.weights[i]! > 0) this.queryWeights.set(query.termIds[i]!, query.weights[i]!);
    if (!encoder.termSpans) this.warnings.push('this collection\'s encoder reads no text (it takes vectors from the client): nothing to highlight');
  }

  /** The highlight of one hit's stored document; fields without a fragment are left out. */
  highlight(document: StoredDocument): HitHighlight {
    const out: HitHighlight = {};
    if (!this.encoder.termSpans) return out;
    // Matched terms by (field, text), weighted by what they add to the score.
    const matched = new Map<string, number>();
    for (let i = 0; i < document.indices.length; i++) {
      const queryWeight = this.queryWeights.get(document.indices[i]!);
      if (queryWeight === undefined) continue;
      const entry = this.dictionary.entry(document.indices[i]!)!;
      matched.set(`${entry.field}\u0000${entry.text}`, queryWeight * (this.encoder.scoring === 'dot' ? document.values[i]! : 1));
    }
    const spans = this.encoder.termSpans(document.fields);
    const wanted = this.settings.fields ?? [...spans.keys()];
    for (const name of wanted) {
      const text = document.fields[name];
      const fieldSpans = spans.get(name);
      if (typeof text !== 'string' || !fieldSpans) continue;
      const matches: TextMatch[] = [];
      for (const span of fieldSpans) {
        const weight = matched.get(`${span.field}\u0000${span.term}`);
        if (weight !== undefined) matches.push({ start: span.start, end: span.end, term: span.term, weight });
      }
      const fragments = chooseFragments(text, matches, this.fragmentOptions);
      if (fragments.length === 0) continue;
      out[name] =
        this.settings.format === 'offsets'
          ? fragments.map((f) => ({ start: f.start, end: f.end, matches: f.matches.map((m) => ({ start: m.start, end: m.end, term: m.term })) }))
          : fragments.map((f) => renderFragment(text, f, this.settings));
    }
    return out;
  }

  /** A warning for requested fields the encoder does not read (they can never have a match). */
  checkFields(textFields: readonly string[]): void {
    const unread = (this.settings.fields ?? []).filter((f) => !textFields.includes(f));
    if (unread.length > 0 && this.encoder.termSpans) {
      this.warnings.push(`highlight: ${unread.map((f) => JSON.stringify(f)).join(', ')} ${unread.length === 1 ? 'is not a field' : 'are not fields'} the encoder reads (${textFields.join(', ')}); nothing there can match`);
    }
  }
}
