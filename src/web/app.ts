// The search page served at / (src/web/index.html). Plain TypeScript for the browser, no
// framework and nothing fetched from elsewhere: every request goes to the server that sent it.
// The API key, when the server asks for one, is kept in sessionStorage only.

interface ApiError {
  readonly code: string;
  readonly message: string;
}

interface TermExplanation {
  readonly term: string;
  readonly field: string;
  readonly queryWeight: number;
  readonly documentValue: number;
  readonly score: number;
}

interface FusionComponent {
  readonly list: string;
  readonly rank: number | null;
  readonly score: number | null;
  readonly contribution?: number;
}

interface Hit {
  readonly id: string;
  readonly score: number;
  readonly fields?: Record<string, unknown>;
  readonly explain?: TermExplanation[];
  readonly fusion?: FusionComponent[];
  /** Fragments of stored fields as offsets, with the tokens that matched (format "offsets"). */
  readonly highlight?: Record<string, OffsetFragment[]>;
}

interface OffsetFragment {
  readonly start: number;
  readonly end: number;
  readonly matches: { readonly start: number; readonly end: number; readonly term: string }[];
}

interface SearchAnswer {
  readonly hits: Hit[];
  readonly took_ms: number;
  readonly mode: string;
  readonly retrieval: string;
  readonly unknown_terms?: string[];
  readonly warnings?: string[];
}

const KEY_STORAGE = 'sparrow.apiKey';
/** Query terms charted, and terms named under each hit's bar (the bar itself keeps every term). */
const CHARTED_TERMS = 30;
const LEGEND_TERMS = 12;
/** Distinct, dark enough for white separators; the legend names each term, so colour is not the only cue. */
const TERM_COLORS = ['#0b5cad', '#b3541e', '#2b7a3d', '#7a3f98', '#8a6d00', '#a4141f', '#2f6f7a', '#5b5b5b'];

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

class RequestFailed extends Error {
  constructor(
    readonly status: number,
    readonly error: ApiError,
  ) {
    super(`${error.code}: ${error.message}`);
  }
}

/** A JSON request to the server; asks for a key (and retries once) when the server wants one. */
async function api<T>(method: string, path: string, body?: unknown, attempt = 0): Promise<T> {
  const headers: Record<string, string> = {};
  const key = sessionStorage.getItem(KEY_STORAGE);
  if (key) headers['authorization'] = `Bearer ${key}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch {
    throw new RequestFailed(0, { code: 'NETWORK', message: 'the server cannot be reached' });
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = undefined;
  }
  if (response.ok) return parsed as T;
  const error = (parsed as { error?: ApiError } | undefined)?.error ?? { code: `HTTP_${response.status}`, message: response.statusText || 'the server answered with an error' };
  // Asked again while the key is refused (a few times: a page left open must not loop forever).
  if (response.status === 401 && attempt < 5) {
    await askForKey(key ? 'The API key was not accepted; give another.' : 'This server needs an API key.');
    return api<T>(method, path, body, attempt + 1);
  }
  throw new RequestFailed(response.status, error);
}

function askForKey(reason: string): Promise<void> {
  const dialog = byId<HTMLDialogElement>('key-dialog');
  byId('key-reason').textContent = reason;
  const input = byId<HTMLInputElement>('api-key');
  input.value = '';
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        if (input.value.trim()) sessionStorage.setItem(KEY_STORAGE, input.value.trim());
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}

function showMessage(text: string | undefined): void {
  const box = byId('message');
  box.hidden = text === undefined;
  box.textContent = text ?? '';
}

function describeError(error: unknown): string {
  if (error instanceof RequestFailed) return `${error.error.message} (${error.error.code})`;
  return `Something went wrong: ${(error as Error).message}`;
}

async function loadSession(): Promise<void> {
  const session = await api<{ role: string; keys_required: boolean }>('GET', '/session');
  document.body.classList.toggle('read-only', session.role === 'read');
  byId('session').textContent = session.keys_required ? `Signed in with ${session.role === 'admin' ? 'an' : 'a'} ${session.role} key` : 'Open server (no API keys configured)';
  byId('change-key').hidden = !session.keys_required;
}

async function loadCollections(): Promise<void> {
  const { collections } = await api<{ collections: { name: string; encoder: { type?: string }; documents?: number }[] }>('GET', '/collections');
  const select = byId<HTMLSelectElement>('collection');
  const previous = select.value;
  select.replaceChildren(...collections.map((c) => new Option(c.name, c.name)));
  if (collections.some((c) => c.name === previous)) select.value = previous;
  const body = byId<HTMLTableElement>('collections-table').tBodies[0]!;
  body.replaceChildren();
  for (const c of collections) {
    const detail = await api<{ index?: Record<string, unknown>; statistics?: { segments?: number; segment_list?: { bytes: number }[] } }>(
      'GET',
      `/collections/${encodeURIComponent(c.name)}`,
    ).catch(() => undefined);
    const bytes = (detail?.statistics?.segment_list ?? []).reduce((sum, s) => sum + s.bytes, 0);
    const row = body.insertRow();
    for (const value of [c.name, c.encoder.type ?? '', String(c.documents ?? ''), String(detail?.statistics?.segments ?? ''), formatBytes(bytes)]) row.insertCell().textContent = value;
    const settings = document.createElement('code');
    settings.textContent = detail?.index && Object.keys(detail.index).length > 0 ? JSON.stringify(detail.index) : 'defaults';
    row.insertCell().append(settings);
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** The conditions the filter builder has added, in the API's filter language. */
const builtConditions: Record<string, unknown>[] = [];

/** A typed value: numbers and booleans as such, everything else as text. */
function typedValue(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === 'true' || trimmed === 'false') return trimmed === 'true';
  if (trimmed !== '' && Number.isFinite(Number(trimmed))) return Number(trimmed);
  return trimmed;
}

function addCondition(): void {
  const field = byId<HTMLInputElement>('filter-field').value.trim();
  const op = byId<HTMLSelectElement>('filter-op').value;
  const value = byId<HTMLInputElement>('filter-value').value;
  if (!field) {
    showMessage('Name the stored field the condition is on.');
    return;
  }
  showMessage(undefined);
  const condition =
    op === 'eq'
      ? { [field]: typedValue(value) }
      : op === 'exists'
        ? { [field]: { exists: true } }
        : op === 'in'
          ? { [field]: { in: value.split(',').map(typedValue) } }
          : { [field]: { [op]: typedValue(value) } };
  builtConditions.push(condition);
  byId<HTMLInputElement>('filter').value = JSON.stringify(builtConditions.length === 1 ? builtConditions[0] : { and: builtConditions });
}

/** Characters of text shown per hit: the best fragment the server found around the matches. */
const SNIPPET_CHARS = 280;

/**
 * The fragment's text with the tokens the server says matched in <mark>: the server maps the
 * encoder's terms (BM25 stems, SPLADE word pieces) back to offsets, so "studies" is marked for a
 * query on "study". Built as DOM nodes, never as HTML, so stored text cannot inject markup.
 */
function markedFragment(text: string, fragment: OffsetFragment | undefined, fallbackLength: number): DocumentFragment {
  const out = document.createDocumentFragment();
  const start = fragment?.start ?? 0;
  const end = fragment?.end ?? Math.min(text.length, fallbackLength);
  if (start > 0) out.append('... ');
  let at = start;
  for (const m of fragment?.matches ?? []) {
    out.append(text.slice(at, m.start));
    const mark = document.createElement('mark');
    mark.textContent = text.slice(m.start, m.end);
    mark.title = `matched term: ${m.term}`;
    out.append(mark);
    at = m.end;
  }
  out.append(text.slice(at, end));
  if (end < text.length) out.append(' ...');
  return out;
}

function colorOf(term: string, palette: Map<string, string>): string {
  if (!palette.has(term)) palette.set(term, TERM_COLORS[palette.size % TERM_COLORS.length]!);
  return palette.get(term)!;
}

/**
 * Whether a query term is one the person typed (or its stem, or a word piece of it) rather than
 * one a learned encoder added: SPLADE expands a query into related terms.
 */
function typedTerm(term: string, typed: readonly string[]): boolean {
  const piece = term.replace(/^##/, '').toLowerCase();
  return typed.some((word) => word.startsWith(piece) || (piece.length > 3 && piece.startsWith(word.slice(0, Math.max(3, word.length - 3)))) || (term.startsWith('##') && word.endsWith(piece)));
}

function renderQueryTerms(answer: SearchAnswer, palette: Map<string, string>, queryText: string): void {
  const typed = queryText.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter((w) => w.length > 0);
  const weights = new Map<string, number>();
  for (const hit of answer.hits) for (const e of hit.explain ?? []) weights.set(`${e.field}:${e.term}`, e.queryWeight);
  const figure = byId('query-terms');
  figure.hidden = weights.size === 0;
  const max = Math.max(...weights.values(), 0);
  const list = byId('query-term-bars');
  // A learned encoder may add a hundred terms: the heaviest are charted, the rest counted.
  const sorted = [...weights.entries()].sort((a, b) => b[1] - a[1]);
  const more = sorted.length - CHARTED_TERMS;
  list.replaceChildren(
    ...sorted
      .slice(0, CHARTED_TERMS)
      .map(([key, weight]) => {
        const term = key.slice(key.indexOf(':') + 1);
        const item = document.createElement('li');
        item.dataset['term'] = term;
        item.dataset['weight'] = String(weight);
        const expansion = !typedTerm(term, typed);
        if (expansion) item.classList.add('expansion');
        const name = document.createElement('span');
        name.textContent = expansion ? `${term} (added)` : term;
        const bar = document.createElement('span');
        bar.className = 'bar-fill';
        bar.style.width = `${max > 0 ? (100 * weight) / max : 0}%`;
        bar.style.background = colorOf(term, palette);
        const value = document.createElement('span');
        value.textContent = weight.toFixed(3);
        item.append(name, bar, value);
        return item;
      }),
    ...(more > 0 ? [Object.assign(document.createElement('li'), { className: 'more', textContent: `and ${more} lighter terms` })] : []),
  );
}

function renderHit(hit: Hit, rank: number, palette: Map<string, string>): HTMLLIElement {
  const item = document.createElement('li');
  item.className = 'hit';
  item.dataset['id'] = hit.id;
  item.dataset['score'] = String(hit.score);
  const title = document.createElement('h3');
  const hasTitle = typeof hit.fields?.['title'] === 'string' && hit.fields['title'] !== '';
  const titleText = hasTitle ? (hit.fields!['title'] as string) : hit.id;
  title.append(markedFragment(titleText, hasTitle ? hit.highlight?.['title']?.[0] : undefined, titleText.length));
  const meta = document.createElement('p');
  meta.className = 'meta';
  meta.textContent = `#${rank} · ${hit.id} · score ${hit.score.toFixed(4)}`;
  const snippet = document.createElement('p');
  snippet.className = 'snippet';
  const text = typeof hit.fields?.['text'] === 'string' ? (hit.fields['text'] as string) : '';
  snippet.append(markedFragment(text, hit.highlight?.['text']?.[0], SNIPPET_CHARS));
  item.append(title, meta, snippet);
  // A fused hit's score is the sum of its lists' contributions; a sparse hit's, of its terms'.
  const parts: { term: string; score: number }[] = hit.fusion
    ? hit.fusion.filter((f) => f.contribution !== undefined && f.contribution > 0).map((f) => ({ term: f.list, score: f.contribution! }))
    : (hit.explain ?? []);
  if (parts.length > 0) {
    // One segment per matched term, as wide as its share of the score.
    const total = parts.reduce((sum, e) => sum + e.score, 0);
    const stack = document.createElement('div');
    stack.className = 'stack';
    stack.setAttribute('role', 'img');
    stack.setAttribute('aria-label', `score ${hit.score.toFixed(4)}: ${parts.map((e) => `${e.term} ${e.score.toFixed(4)}`).join(', ')}`);
    const legend = document.createElement('ul');
    legend.className = 'legend';
    const ordered = [...parts].sort((a, b) => b.score - a.score);
    ordered.forEach((e, i) => {
      const segment = document.createElement('span');
      segment.className = 'contribution';
      segment.dataset['term'] = e.term;
      segment.dataset['score'] = String(e.score);
      segment.style.width = `${total > 0 ? (100 * e.score) / total : 0}%`;
      segment.style.background = colorOf(e.term, palette);
      stack.append(segment);
      if (i >= LEGEND_TERMS) return;
      const entry = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = colorOf(e.term, palette);
      entry.append(swatch, `${e.term} ${e.score.toFixed(3)}`);
      legend.append(entry);
    });
    if (ordered.length > LEGEND_TERMS) legend.append(Object.assign(document.createElement('li'), { textContent: `+${ordered.length - LEGEND_TERMS} more` }));
    item.append(stack, legend);
  }
  if (hit.fusion) {
    const fusion = document.createElement('p');
    fusion.className = 'fusion';
    fusion.textContent = hit.fusion
      .map((f) => `${f.list}: ${f.rank === null ? 'not returned' : `rank ${f.rank}, score ${f.score?.toFixed(4)}`}${f.contribution !== undefined ? `, adds ${f.contribution.toFixed(4)}` : ''}`)
      .join(' · ');
    item.append(fusion);
  }
  return item;
}

async function search(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  showMessage(undefined);
  const collection = byId<HTMLSelectElement>('collection').value;
  const filterText = byId<HTMLInputElement>('filter').value.trim();
  let filter: unknown;
  if (filterText) {
    try {
      filter = JSON.parse(filterText);
    } catch {
      showMessage('The filter is not valid JSON, e.g. {"year": {"gte": 2015}}.');
      return;
    }
  }
  const retrieval = byId<HTMLSelectElement>('retrieval').value;
  const body = {
    query: byId<HTMLInputElement>('query').value,
    k: Number(byId<HTMLInputElement>('k').value) || 10,
    mode: byId<HTMLSelectElement>('mode').value,
    retrieval,
    explain: true,
    // One fragment per field: the whole title, and the best stretch of the text (its start when
    // nothing matched there); offsets rather than tags, so the page builds the marks itself.
    highlight: { format: 'offsets', fragment_size: SNIPPET_CHARS, number_of_fragments: 1, no_match_size: SNIPPET_CHARS },
    ...(filter !== undefined ? { filter } : {}),
    ...(retrieval === 'hybrid' ? { fusion: byId<HTMLSelectElement>('fusion').value === 'convex' ? { method: 'convex', weights: [0.7, 0.3] } : { method: 'rrf' } } : {}),
  };
  const results = byId('results');
  try {
    const answer = await api<SearchAnswer>('POST', `/collections/${encodeURIComponent(collection)}/search`, body);
    const palette = new Map<string, string>();
    renderQueryTerms(answer, palette, body.query);
    results.replaceChildren(...answer.hits.map((hit, i) => renderHit(hit, i + 1, palette)));
    const notes = [...(answer.warnings ?? []), ...(answer.unknown_terms?.length ? [`not in the collection: ${answer.unknown_terms.join(', ')}`] : [])];
    byId('summary').textContent = `${answer.hits.length} results in ${answer.took_ms.toFixed(1)} ms (${answer.retrieval}, ${answer.mode})${notes.length ? ` · ${notes.join(' · ')}` : ''}`;
  } catch (error) {
    results.replaceChildren();
    byId('query-terms').hidden = true;
    byId('summary').textContent = '';
    showMessage(describeError(error));
  }
}

async function createCollection(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  showMessage(undefined);
  const name = byId<HTMLInputElement>('new-name').value.trim();
  const type = byId<HTMLSelectElement>('new-encoder').value;
  try {
    await api('POST', '/collections', { name, encoder: { type } });
    await loadCollections();
    byId<HTMLSelectElement>('collection').value = name;
  } catch (error) {
    showMessage(describeError(error));
  }
}

interface JobView {
  readonly id: string;
  readonly status: string;
  readonly progress: { processed: number; indexed: number; failed: number; fraction: number; docs_per_second: number; eta_seconds: number | null };
  readonly errors: { line?: number; code: string; message: string }[];
  readonly error?: ApiError;
}

/** Sends the chosen file as an upload job and follows it until it ends. */
async function upload(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  showMessage(undefined);
  const file = byId<HTMLInputElement>('upload-file').files?.[0];
  const collection = byId<HTMLSelectElement>('collection').value;
  if (!file || !collection) return;
  const key = sessionStorage.getItem(KEY_STORAGE);
  const response = await fetch(`/jobs?collection=${encodeURIComponent(collection)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: file,
  }).catch(() => undefined);
  if (!response) {
    showMessage('The server cannot be reached.');
    return;
  }
  const started = (await response.json().catch(() => ({}))) as JobView & { error?: ApiError };
  if (!response.ok) {
    showMessage(`${started.error?.message ?? response.statusText} (${started.error?.code ?? `HTTP_${response.status}`})`);
    return;
  }
  const panel = byId('job');
  panel.hidden = false;
  byId('job-title').textContent = `Upload of ${file.name} into ${collection}`;
  panel.dataset['job'] = started.id;
  for (;;) {
    const job = await api<JobView>('GET', `/jobs/${encodeURIComponent(started.id)}`);
    renderJob(job);
    if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await loadCollections();
}

function renderJob(job: JobView): void {
  const p = job.progress;
  const bar = byId<HTMLProgressElement>('job-progress');
  bar.value = job.status === 'completed' ? 1 : p.fraction;
  byId('job').dataset['status'] = job.status;
  const eta = p.eta_seconds === null || job.status !== 'running' ? '' : `, about ${Math.ceil(p.eta_seconds)} s left`;
  byId('job-status').textContent =
    `${job.status}: ${p.processed} lines read, ${p.indexed} indexed, ${p.failed} rejected, ${p.docs_per_second.toFixed(0)} documents/s${eta}` +
    (job.error ? ` (${job.error.message}, ${job.error.code})` : '');
  byId('job-errors').replaceChildren(
    ...job.errors.map((e) => {
      const item = document.createElement('li');
      // Messages usually name their line already.
      const prefix = e.line !== undefined && !e.message.startsWith(`line ${e.line}`) ? `line ${e.line}: ` : '';
      item.textContent = `${prefix}${e.message} (${e.code})`;
      return item;
    }),
  );
}

async function start(): Promise<void> {
  byId<HTMLFormElement>('upload-form').addEventListener('submit', (event) => void upload(event).catch((error) => showMessage(describeError(error))));
  byId<HTMLFormElement>('search-form').addEventListener('submit', (event) => void search(event));
  byId<HTMLFormElement>('create-form').addEventListener('submit', (event) => void createCollection(event));
  byId('filter-add').addEventListener('click', addCondition);
  byId('filter-clear').addEventListener('click', () => {
    builtConditions.length = 0;
    byId<HTMLInputElement>('filter').value = '';
  });
  byId('change-key').addEventListener('click', () => {
    void askForKey('Give the API key to use.').then(() => Promise.all([loadSession(), loadCollections()])).catch((error) => showMessage(describeError(error)));
  });
  try {
    await loadSession();
    await loadCollections();
  } catch (error) {
    showMessage(describeError(error));
  }
  document.body.dataset['ready'] = 'true';
}

void start();
