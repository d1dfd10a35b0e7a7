import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Engine } from '../src/engine/engine.js';
import { startServer, type Server } from './support/server.js';
import { tinyModelFolder } from './support/tiny-model.js';
import { tempDir } from './support/tmp.js';

// The search page in a real browser: Debian's Chromium driven by playwright-core, against a real
// `sparrow serve` child on loopback with API keys.
const CHROMIUM = process.env['SPARROW_CHROMIUM'] ?? '/usr/bin/chromium';
const READ_KEY = 'read-key-0123456789abcdef';
const ADMIN_KEY = 'admin-key-0123456789abcdef';
/** Where screenshots go: docs/screenshots when asked (SPARROW_SCREENSHOTS=1), a temp folder otherwise. */
const screenshotsDir = process.env['SPARROW_SCREENSHOTS'] === '1' ? path.resolve('docs', 'screenshots') : undefined;

const DOCS = [
  ['d1', 'Diffusion imaging of white matter', 'Diffusion tensor imaging maps white matter tracts in the developing brain.', 2016],
  ['d2', 'Gray matter volume in ageing', 'Cortical gray matter volume declines with age in healthy adults.', 2012],
  ['d3', 'Diffusing molecules in cells', 'Molecules diffuse through the cytoplasm faster than expected.', 2019],
  ['d4', 'White blood cells and infection', 'White cells respond to infection by migrating into tissue.', 2010],
  ['d5', 'Matter waves', 'Matter waves of cold atoms interfere like light.', 2021],
  ['d6', 'Tractography of the corpus callosum', 'Diffusion weighted images reveal white matter connections across the corpus callosum.', 2018],
] as const;

if (!fs.existsSync(CHROMIUM)) {
  t.pass(`skipped: no Chromium at ${CHROMIUM} (apt-get install --no-install-recommends chromium, or set SPARROW_CHROMIUM)`, { skip: true });
} else {
  let server: Server;
  let browser: Browser;

  t.before(async () => {
    const dataDir = tempDir(t);
    const engine = Engine.open(dataDir);
    engine.createCollection('papers', { encoder: { type: 'bm25' } }).upsert(DOCS.map(([id, title, text, year]) => ({ id, fields: { title, text, year } })));
    await engine
      .createCollection('splade', { encoder: { type: 'splade', model: tinyModelFolder(t) } })
      .upsertAsync(DOCS.map(([id, title, text, year]) => ({ id, fields: { title, text, year } })));
    await engine
      .createCollection('hybrid', { encoder: { type: 'bm25' }, dense: { encoder: { type: 'static' } } })
      .upsertAsync(DOCS.map(([id, title, text, year]) => ({ id, fields: { title, text, year } })));
    engine.close();
    server = await startServer(t, dataDir, dataDir, { SPARROW_READ_KEYS: READ_KEY, SPARROW_ADMIN_KEYS: ADMIN_KEY, SPARROW_SEARCH_THREADS: '0' });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  });
  t.teardown(async () => {
    await browser?.close();
  });

  async function openWithKey(key: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const page = await browser.newPage({ viewport });
    await page.goto(server.address);
    await page.locator('#key-dialog[open]').waitFor();
    await page.fill('#api-key', key);
    await page.click('#key-dialog button[type=submit]');
    await page.locator('body[data-ready=true]').waitFor();
    await page.selectOption('#collection', 'papers');
    return page;
  }

  async function screenshot(page: Page, name: string): Promise<void> {
    const dir = screenshotsDir ?? tempDir(t);
    fs.mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: path.join(dir, name), fullPage: true });
  }

  t.test('search: results with highlighted matches, explanation bars that add up to each score', async (t) => {
    const page = await openWithKey(ADMIN_KEY);
    t.match(await page.textContent('#session'), /admin key/);
    t.same((await page.$$eval('#collection option', (options) => options.map((o) => (o as HTMLOptionElement).value))).sort(), ['hybrid', 'papers', 'splade']);
    await page.fill('#query', 'white matter diffusion');
    await page.click('#search-button');
    await page.locator('.hit').first().waitFor();
    const hits = await page.$$eval('.hit', (items) =>
      items.map((item) => ({
        id: (item as HTMLElement).dataset['id'],
        score: Number((item as HTMLElement).dataset['score']),
        parts: [...item.querySelectorAll<HTMLElement>('.contribution')].map((s) => ({ term: s.dataset['term'], score: Number(s.dataset['score']), width: parseFloat(s.style.width) })),
        marks: [...item.querySelectorAll('mark')].map((m) => m.textContent),
        markedTerms: [...item.querySelectorAll('mark')].map((m) => (m as HTMLElement).title.replace('matched term: ', '')),
      })),
    );
    t.equal(hits[0]!.id, 'd1', 'the best match first');
    for (const hit of hits) {
      // The documents are short, so title and snippet show every token: marked = what scored.
      t.same([...new Set(hit.markedTerms)].sort(), hit.parts.map((p) => p.term).sort(), `${hit.id}: the marked words are exactly the terms that scored`);
    }
    for (const hit of hits) {
      const sum = hit.parts.reduce((s, p) => s + p.score, 0);
      t.ok(Math.abs(sum - hit.score) <= 1e-4 * Math.max(1, hit.score), `${hit.id}: the bars add up to the score (${sum.toFixed(5)} vs ${hit.score.toFixed(5)})`);
      t.ok(Math.abs(hit.parts.reduce((s, p) => s + p.width, 0) - 100) < 0.5, `${hit.id}: the stacked bar is full width`);
    }
    const d3 = hits.find((h) => h.id === 'd3');
    t.ok(d3?.marks.includes('diffuse') && d3.marks.includes('Diffusing'), 'stemmed matches ("Diffusing", "diffuse" for the query\'s "diffusion") are highlighted');
    const termBars = await page.$$eval('#query-term-bars li', (items) => items.map((i) => (i as HTMLElement).dataset['term']));
    t.ok(termBars.includes('diffus') && termBars.includes('white'), `the query's terms are charted: ${termBars.join(', ')}`);
    t.equal(await page.locator('#query-term-bars li.expansion').count(), 0, 'BM25 adds no terms: none is marked as added');
    t.match(await page.textContent('#summary'), /results in .* ms \(sparse, exact\)/);
    await screenshot(page, 'search-1280.png');
    await page.close();
  });

  t.test('bad input shows a readable message: malformed filter, a filter the server refuses, a refused collection name', async (t) => {
    const page = await openWithKey(ADMIN_KEY);
    await page.fill('#query', 'matter');
    await page.fill('#filter', '{year: 2016');
    await page.click('#search-button');
    t.match(await page.locator('#message').textContent(), /not valid JSON/);
    await page.fill('#filter', '{"year": {"almost": 2016}}');
    await page.click('#search-button');
    await page.locator('#message:not([hidden])').waitFor();
    const message = (await page.textContent('#message')) ?? '';
    t.match(message, /\([A-Z_]+\)$/, `the server's message with its code: ${message}`);
    t.notMatch(message, /at .*\.js:\d+/, 'no stack trace');
    await page.fill('#filter', '{"year": {"gte": 2017}}');
    await page.click('#search-button');
    await page.locator('.hit').first().waitFor();
    t.same(await page.$$eval('.hit', (items) => items.map((i) => (i as HTMLElement).dataset['id']).sort()), ['d5', 'd6'], 'a valid filter narrows the results');
    await page.fill('#new-name', 'bad name!');
    await page.evaluate(() => (document.getElementById('new-name') as HTMLInputElement).removeAttribute('pattern'));
    await page.click('#create-form button[type=submit]');
    await page.locator('#message:not([hidden])').waitFor();
    t.match(await page.textContent('#message'), /\([A-Z_]+\)/, 'the refused name is explained');
    await page.close();
  });

  t.test('the filter builder writes the filter the search sends; the collections list shows bytes and settings', async (t) => {
    const page = await openWithKey(ADMIN_KEY);
    await page.fill('#filter-field', 'year');
    await page.selectOption('#filter-op', 'gte');
    await page.fill('#filter-value', '2017');
    await page.click('#filter-add');
    t.equal(await page.inputValue('#filter'), '{"year":{"gte":2017}}');
    await page.fill('#filter-field', 'year');
    await page.selectOption('#filter-op', 'in');
    await page.fill('#filter-value', '2018, 2021, 2010');
    await page.click('#filter-add');
    t.same(JSON.parse(await page.inputValue('#filter')), { and: [{ year: { gte: 2017 } }, { year: { in: [2018, 2021, 2010] } }] }, 'conditions are joined with and, numbers typed');
    await page.fill('#query', 'matter white');
    await page.click('#search-button');
    await page.locator('.hit').first().waitFor();
    t.same(await page.$$eval('.hit', (items) => items.map((i) => (i as HTMLElement).dataset['id']).sort()), ['d5', 'd6']);
    await page.click('#filter-clear');
    t.equal(await page.inputValue('#filter'), '');
    await page.fill('#filter-field', '');
    await page.click('#filter-add');
    t.match(await page.textContent('#message'), /Name the stored field/, 'a condition without a field is explained');
    const row = await page.$$eval('#collections-table tbody tr', (rows) =>
      rows.map((r) => [...(r as HTMLTableRowElement).cells].map((c) => c.textContent)).find((cells) => cells[0] === 'papers')!,
    );
    t.same(row.slice(0, 2), ['papers', 'bm25']);
    t.match(row[4], /^\d+(\.\d)? (B|KiB|MiB)$/, `segment bytes: ${row[4]}`);
    t.ok(row[5] === 'defaults' || row[5]!.startsWith('{'), `index settings: ${row[5]}`);
    await page.close();
  });

  t.test('keys: a wrong key is asked again, a read key sees no write controls', async (t) => {
    const page = await browser.newPage();
    await page.goto(server.address);
    await page.locator('#key-dialog[open]').waitFor();
    await page.fill('#api-key', 'not-a-key-at-all-xxxxxxxx');
    await page.click('#key-dialog button[type=submit]');
    await page.locator('#key-dialog[open]').waitFor();
    t.match(await page.textContent('#key-reason'), /not accepted/);
    await page.fill('#api-key', READ_KEY);
    await page.click('#key-dialog button[type=submit]');
    await page.locator('body[data-ready=true]').waitFor();
    t.match(await page.textContent('#session'), /read key/);
    t.notOk(await page.isVisible('#create-form'), 'the create form is hidden for a read key');
    t.equal(await page.evaluate(() => sessionStorage.getItem('sparrow.apiKey')), READ_KEY, 'the key lives in sessionStorage');
    t.equal(await page.evaluate(() => localStorage.length), 0, 'and nowhere that outlives the session');
    await page.close();
  });

  t.test('a 390 px phone screen: nothing wider than the screen; labels, focus order and contrast', async (t) => {
    const page = await openWithKey(ADMIN_KEY, { width: 390, height: 844 });
    await page.fill('#query', 'white matter');
    await page.click('#search-button');
    await page.locator('.hit').first().waitFor();
    t.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, 'no horizontal scrolling');
    await screenshot(page, 'search-390.png');
    const unlabelled = await page.$$eval('input, select, textarea', (controls) =>
      controls.filter((c) => !c.id || !document.querySelector(`label[for="${c.id}"]`)).map((c) => c.outerHTML),
    );
    t.same(unlabelled, [], 'every control has a label');
    // Tab order follows the page order of the visible controls.
    const expected = await page.$$eval('header button, main input, main select, main button, main [tabindex="0"]', (all) =>
      all.filter((e) => (e as HTMLElement).offsetParent !== null).map((e) => e.id || (e as HTMLElement).textContent),
    );
    // Sequential navigation starts from the top of the page.
    await page.evaluate(() => {
      document.body.tabIndex = -1;
      document.body.focus();
    });
    const visited: string[] = [];
    for (let i = 0; i < expected.length; i++) {
      await page.keyboard.press('Tab');
      visited.push(await page.evaluate(() => document.activeElement?.id || document.activeElement?.textContent || ''));
    }
    t.same(visited, expected, 'focus moves through the controls in page order');
    const lowContrast = await page.evaluate(() => {
      const luminance = (rgb: number[]): number => {
        const [r, g, b] = rgb.map((v) => {
          const c = v / 255;
          return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
      };
      const parse = (color: string): number[] | undefined => {
        const m = /rgba?\(([\d.]+), ([\d.]+), ([\d.]+)(?:, ([\d.]+))?\)/.exec(color);
        if (!m || (m[4] !== undefined && Number(m[4]) === 0)) return undefined;
        return [Number(m[1]), Number(m[2]), Number(m[3])];
      };
      const background = (element: Element | null): number[] => {
        for (let e = element; e; e = e.parentElement) {
          const color = parse(getComputedStyle(e).backgroundColor);
          if (color) return color;
        }
        return [255, 255, 255];
      };
      const failures: string[] = [];
      for (const element of document.querySelectorAll('body *')) {
        const own = [...element.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent!.trim().length > 0);
        if (!own || (element as HTMLElement).offsetParent === null) continue;
        const fg = parse(getComputedStyle(element).color)!;
        const bg = background(element);
        const [light, dark] = [luminance(fg), luminance(bg)].sort((a, b) => b - a);
        const ratio = (light! + 0.05) / (dark! + 0.05);
        if (ratio < 4.5) failures.push(`${element.tagName.toLowerCase()} "${element.textContent!.trim().slice(0, 30)}": ${ratio.toFixed(2)}`);
      }
      return failures;
    });
    t.same(lowContrast, [], 'every text has a contrast ratio of at least 4.5:1');
    await page.close();
  });

  t.test('upload: a JSONL file becomes a job whose progress bar ends full, with the rejected line by number', async (t) => {
    const page = await openWithKey(ADMIN_KEY);
    const file = path.join(tempDir(t), 'more.jsonl');
    fs.writeFileSync(
      file,
      [
        JSON.stringify({ id: 'u1', title: 'Uploaded white matter study', text: 'More diffusion imaging.' }),
        JSON.stringify({ id: 'u2', title: 'Second upload', text: 'Matter of fact.' }),
        '{"id": "u3", "title": broken',
        JSON.stringify({ id: 'u4', title: 'Fourth upload', text: 'White light.' }),
      ].join('\n') + '\n',
    );
    await page.setInputFiles('#upload-file', file);
    await page.click('#upload-form button[type=submit]');
    await page.locator('#job[data-status=completed]').waitFor();
    t.equal(await page.$eval('#job-progress', (p) => (p as HTMLProgressElement).value), 1, 'the bar is full');
    t.match(await page.textContent('#job-status'), /completed: 4 lines read, 3 indexed, 1 rejected/);
    t.match(await page.textContent('#job-errors'), /^line 3\b.*\(INVALID_JSON\)$/, 'the bad line is named by number and code');
    await page.locator('#collections-table tbody tr:has(td:text-is("papers")) td:nth-child(3):text("9")').waitFor();
    await page.fill('#query', 'uploaded');
    await page.click('#search-button');
    await page.locator('.hit[data-id=u1]').waitFor();
    t.pass('the uploaded documents are searchable');
    await screenshot(page, 'upload-1280.png');
    await page.close();
  });

  t.test('hybrid: each hit shows both lists\' ranks and a bar of what each list added to the fused score', async (t) => {
    const page = await openWithKey(ADMIN_KEY);
    await page.selectOption('#collection', 'hybrid');
    await page.fill('#query', 'white matter imaging');
    await page.selectOption('#retrieval', 'hybrid');
    await page.selectOption('#fusion', 'convex');
    await page.click('#search-button');
    await page.locator('.hit').first().waitFor();
    t.match(await page.textContent('#summary'), /\(hybrid, /);
    const hits = await page.$$eval('.hit', (items) =>
      items.map((item) => ({
        score: Number((item as HTMLElement).dataset['score']),
        parts: [...item.querySelectorAll<HTMLElement>('.contribution')].map((s) => ({ list: s.dataset['term'], score: Number(s.dataset['score']) })),
        fusion: item.querySelector('.fusion')?.textContent ?? '',
      })),
    );
    t.ok(hits.length > 0);
    for (const hit of hits) {
      t.match(hit.fusion, /sparse: (rank \d+|not returned).*dense: (rank \d+|not returned)/, `fusion line: ${hit.fusion}`);
      const sum = hit.parts.reduce((s, p) => s + p.score, 0);
      t.ok(Math.abs(sum - hit.score) <= 1e-4 * Math.max(1, hit.score), `the list bars add up to the fused score (${sum.toFixed(5)} vs ${hit.score.toFixed(5)})`);
    }
    await screenshot(page, 'hybrid-1280.png');
    await page.close();
  });

  t.test('report.html from sparrow eval renders offline, one chart point per query', async (t) => {
    const { renderHtmlReport } = await import('../src/eval/html-report.js');
    const file = path.join(tempDir(t), 'report.html');
    const a = new Map(Array.from({ length: 12 }, (_, i) => [`q${i}`, { ndcg_cut_10: i / 12 }] as const));
    const b = new Map(Array.from({ length: 12 }, (_, i) => [`q${i}`, { ndcg_cut_10: ((i * 5) % 12) / 12 }] as const));
    fs.writeFileSync(file, renderHtmlReport({ title: 'mini', notes: ['12 queries'], runs: [{ name: 'sparse', metrics: { ndcg_cut_10: 0.46 }, perQuery: a }, { name: 'fused', metrics: { ndcg_cut_10: 0.5 }, perQuery: b }], measures: ['ndcg_cut_10'] }));
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    await page.goto(`file://${file}`);
    t.equal(await page.locator('circle.query').count(), 12, 'one point per query');
    const box = await page.locator('svg').first().boundingBox();
    t.ok(box && box.width > 100 && box.height > 100, 'the chart is drawn');
    t.same(requests.filter((url) => !url.startsWith('file:')), [], 'nothing is fetched');
    await page.close();
  });

  t.test('SPLADE: terms the encoder added to the query are striped and marked, typed ones are not', async (t) => {
    const page = await openWithKey(ADMIN_KEY);
    await page.selectOption('#collection', 'splade');
    await page.fill('#query', 'white matter');
    await page.click('#search-button');
    await page.locator('#query-term-bars li').first().waitFor();
    const terms = await page.$$eval('#query-term-bars li:not(.more)', (items) => items.map((i) => ({ term: (i as HTMLElement).dataset['term']!, added: i.classList.contains('expansion'), label: i.firstElementChild!.textContent })));
    t.ok(terms.some((x) => x.added), `some terms are expansions: ${terms.filter((x) => x.added).map((x) => x.term).slice(0, 8).join(', ')}`);
    for (const x of terms) {
      if (x.term === 'white' || x.term === 'matter') t.notOk(x.added, `${x.term} was typed`);
      t.equal(x.label, x.added ? `${x.term} (added)` : x.term, 'marked in words, not only by the stripes');
    }
    t.ok(terms.length <= 30, `at most 30 terms charted (${terms.length})`);
    const hits = await page.$$eval('.hit', (items) =>
      items.map((item) => ({
        scored: [...item.querySelectorAll<HTMLElement>('.contribution')].map((s) => s.dataset['term']),
        marked: [...item.querySelectorAll('mark')].map((m) => (m as HTMLElement).title.replace('matched term: ', '')),
      })),
    );
    for (const hit of hits) for (const term of hit.marked) t.ok(hit.scored.includes(term), `marked word piece ${term} is one that scored`);
    await screenshot(page, 'splade-1280.png');
    await page.close();
  });

  // Last: it deletes a collection and stops the server.
  t.test('a collection deleted meanwhile and a server that went away: readable messages, never a blank page', async (t) => {
    const page = await openWithKey(ADMIN_KEY);
    await page.selectOption('#collection', 'hybrid');
    const deleted = await fetch(`${server.address}/collections/hybrid`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_KEY}` } });
    t.equal(deleted.status, 200);
    await page.fill('#query', 'white');
    await page.click('#search-button');
    await page.locator('#message:not([hidden])').waitFor();
    t.match(await page.textContent('#message'), /\(COLLECTION_NOT_FOUND\)$/);
    server.child.kill('SIGKILL');
    await server.exited;
    await page.selectOption('#collection', 'papers');
    await page.click('#search-button');
    await page.locator('#message:text("cannot be reached")').waitFor();
    t.match(await page.textContent('#message'), /the server cannot be reached \(NETWORK\)/);
    t.ok(await page.isVisible('#search-form'), 'the page is still there');
    await page.close();
  });
}
