/**
 * Highlighted fragments of a stored text: pure string work over the offsets of the tokens whose
 * terms matched. Which tokens matched is decided by the caller (the encoder maps text to terms,
 * the collection knows which terms the query and the document share).
 */

/** A matched token in the text: UTF-16 offsets [start, end), its term and what it added to the score. */
export interface TextMatch {
  readonly start: number;
  readonly end: number;
  readonly term: string;
  readonly weight: number;
}

export interface FragmentOptions {
  /** Characters per fragment, about (fragments end at word boundaries); 0 highlights the whole text. */
  readonly fragmentSize: number;
  /** Fragments per field at most; 0 highlights the whole text as one fragment. */
  readonly numberOfFragments: number;
  /** "position": fragments in text order; "score": the best first. */
  readonly order: 'position' | 'score';
  /** Characters of the text's start returned when nothing in it matched (0: no fragment). */
  readonly noMatchSize: number;
}

/** A fragment as offsets into the text: [start, end), with the matches inside it. */
export interface Fragment {
  readonly start: number;
  readonly end: number;
  readonly score: number;
  readonly matches: readonly TextMatch[];
}

/** How far a fragment's edge moves to reach a word boundary instead of cutting a word. */
const BOUNDARY_REACH = 20;
/** A fragment starts this share of its size before its first match, so the match has context. */
const LEAD_SHARE = 0.25;

/** Whether a fragment may start at i (a word starts there) or end at i (a word ended there). */
function isBoundary(text: string, i: number, direction: -1 | 1): boolean {
  if (i <= 0 || i >= text.length) return true;
  return direction < 0 ? /\s/u.test(text[i - 1]!) : /\s/u.test(text[i]!);
}

/** Moves a fragment's start back (or its end forward) to the nearest word boundary within reach. */
function snap(text: string, i: number, direction: -1 | 1, limit: number): number {
  for (let step = 0; step <= BOUNDARY_REACH; step++) {
    const at = i + direction * step;
    if (direction < 0 ? at < limit : at > limit) break;
    if (isBoundary(text, at, direction)) return at;
  }
  return i;
}

/** A window's worth: each distinct term counts its weight once, repeats add a little. */
function windowScore(matches: readonly TextMatch[]): number {
  const seen = new Set<string>();
  let score = 0;
  for (const m of matches) {
    if (seen.has(m.term)) score += m.weight * 0.1;
    else {
      seen.add(m.term);
      score += m.weight;
    }
  }
  return score;
}

/**
 * The best fragments of `text` around `matches` (sorted by start, not overlapping). Candidate
 * windows start a little before each match; the best-scoring window is taken, windows overlapping
 * it are dropped, and so on until numberOfFragments are chosen.
 */
export function chooseFragments(text: string, matches: readonly TextMatch[], options: FragmentOptions): Fragment[] {
  if (matches.length === 0) {
    if (options.noMatchSize <= 0 || text.length === 0) return [];
    const cut = Math.min(text.length, options.noMatchSize);
    return [{ start: 0, end: cut === text.length ? cut : snap(text, cut, -1, 1), score: 0, matches: [] }];
  }
  if (options.fragmentSize <= 0 || options.numberOfFragments <= 0) {
    return [{ start: 0, end: text.length, score: windowScore(matches), matches }];
  }
  const size = options.fragmentSize;
  const candidates: Fragment[] = [];
  for (let i = 0; i < matches.length; i++) {
    const anchor = matches[i]!;
    let start = Math.max(0, Math.min(anchor.start - Math.floor(size * LEAD_SHARE), text.length - size));
    start = snap(text, start, -1, 0);
    let end = Math.min(text.length, start + size);
    end = Math.max(snap(text, end, 1, text.length), anchor.end);
    const inside: TextMatch[] = [];
    for (let j = i; j >= 0 && matches[j]!.end > start; j--) if (matches[j]!.start >= start) inside.unshift(matches[j]!);
    for (let j = i + 1; j < matches.length && matches[j]!.end <= end; j++) inside.push(matches[j]!);
    candidates.push({ start, end, score: windowScore(inside), matches: inside });
  }
  // Best first; among equals the earlier window, so results are stable.
  candidates.sort((a, b) => b.score - a.score || a.start - b.start);
  const chosen: Fragment[] = [];
  for (const c of candidates) {
    if (chosen.length >= options.numberOfFragments) break;
    if (chosen.some((f) => c.start < f.end && f.start < c.end)) continue;
    chosen.push(c);
  }
  if (options.order === 'position') chosen.sort((a, b) => a.start - b.start);
  return chosen;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#x27;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/gu, (c) => HTML_ESCAPES[c]!);
}

/** A fragment as a string with each match wrapped in the tags; "html" escapes the text (not the tags). */
export function renderFragment(text: string, fragment: Fragment, tags: { preTag: string; postTag: string; encoder: 'html' | 'none' }): string {
  const encode = tags.encoder === 'html' ? escapeHtml : (s: string) => s;
  let out = '';
  let at = fragment.start;
  for (const m of fragment.matches) {
    out += encode(text.slice(at, m.start)) + tags.preTag + encode(text.slice(m.start, m.end)) + tags.postTag;
    at = m.end;
  }
  return out + encode(text.slice(at, fragment.end));
}
