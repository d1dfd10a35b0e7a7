import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import { toIngestDocument } from '../src/engine/documents.js';
import { buildApp } from '../src/server/app.js';
import { ERROR_TABLE } from '../src/server/errors.js';
import { repoRoot } from './support/paths.js';
import { tempDir } from './support/tmp.js';

function setup(t: { teardown: (fn: () => unknown) => void }) {
  const engine = Engine.open(tempDir(t));
  engine.createCollection('papers').upsert(
    [
      { _id: 'p1', title: 'Sparse retrieval', text: 'Learned sparse retrieval with term weights.', year: 2021 },
      { _id: 'p2', title: 'Dense retrieval', text: 'Dense vectors and nearest neighbours.', year: 2020 },
    ].map(toIngestDocument),
  );
  const app = buildApp({ engine });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  return app;
}
t.test('health and search over inject', async (t) => {
  const app = setup(t);
  const health = await app.inject({ method: 'GET', url: '/health' });
  t.equal(health.statusCode, 200);
  t.same(health.json(), { status: 'ok' });
  const res = await app.inject({ method: 'POST', url: '/collections/papers/search', payload: { query: 'sparse term weights', k: 5, explain: true } });
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.equal(body.hits[0].id, 'p1');
  t.equal(body.hits[0].fields.year, 2021);
  t.ok(body.hits[0].explain.length >= 2);
  t.type(body.took_ms, 'number');
  const vector = await app.inject({ method: 'POST', url: '/collections/papers/search', payload: { query: { dens: 1 }, k: 5 } });
  t.same(vector.json().hits.map((h: { id: string }) => h.id), ['p2']);
});

t.test('bad requests get coded 4xx errors, never a 5xx', async (t) => {
  const app = setup(t);
  const cases: [string, Record<string, unknown>, number, string][] = [
    ['unknown collection', { url: '/collections/nope/search', payload: { query: 'x' } }, 404, 'COLLECTION_NOT_FOUND'],
    ['missing query', { payload: { k: 3 } }, 400, 'VALIDATION_FAILED'],
    ['k as string', { payload: { query: 'x', k: 'ten' } }, 400, 'VALIDATION_FAILED'],
    ['k too large', { payload: { query: 'x', k: 1_000_000 } }, 400, 'VALIDATION_FAILED'],
    ['unknown field', { payload: { query: 'x', frobnicate: true } }, 400, 'VALIDATION_FAILED'],
    ['blank query', { payload: { query: '  ' } }, 400, 'EMPTY_QUERY'],
    ['negative weight', { payload: { query: { spars: -1 } } }, 400, 'NEGATIVE_WEIGHT'],
    ['string weight', { payload: { query: { spars: 'a lot' } } }, 400, 'INVALID_WEIGHT'],
    ['malformed JSON', { payload: '{"query": ', headers: { 'content-type': 'application/json' } }, 400, 'MALFORMED_JSON'],
    ['wrong media type', { payload: 'query=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['unknown route', { url: '/nowhere', method: 'GET' }, 404, 'ROUTE_NOT_FOUND'],
  ];
  for (const [name, request, status, code] of cases) {
    const res = await app.inject({ method: 'POST', url: '/collections/papers/search', ...request } as never);
    t.equal(res.statusCode, status, `${name}: status`);
    t.equal(res.json().error?.code, code, `${name}: code`);
    t.type(res.json().error?.message, 'string', `${name}: message`);
  }
  const big = await buildApp({ engine: Engine.open(tempDir(t)), bodyLimit: 1024 }).inject({
    method: 'POST',
    url: '/collections/papers/search',
    payload: { query: 'x'.repeat(5000) },
  });
  t.equal(big.statusCode, 413);
  t.equal(big.json().error.code, 'PAYLOAD_TOO_LARGE');
});

t.test('search over real loopback HTTP', async (t) => {
  const app = setup(t);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const res = await fetch(`${address}/collections/papers/search`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: 'dense vectors', k: 1 }),
  });
  t.equal(res.status, 200);
  t.equal(((await res.json()) as { hits: { id: string }[] }).hits[0]!.id, 'p2');
});

t.test('the error table and docs/errors.md list the same codes and statuses', async (t) => {
  const doc = fs.readFileSync(path.join(repoRoot, 'docs', 'errors.md'), 'utf8');
  const apiSection = doc.split('## HTTP API')[1]!.split('\n## ')[0]!;
  const documented = new Map<string, number>();
  for (const match of apiSection.matchAll(/^\| ([A-Z_]+) \| (\d{3}) \|/gm)) documented.set(match[1]!, Number(match[2]));
  const table = new Map(Object.entries(ERROR_TABLE).map(([code, spec]) => [code, spec.status]));
  t.same(Object.fromEntries(documented), Object.fromEntries(table));
});
