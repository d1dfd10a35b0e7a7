import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import { buildApp, type AppOptions } from '../src/server/app.js';
import { tempDir } from './support/tmp.js';

type Test = { teardown: (fn: () => unknown) => void };

function setup(t: Test, options: Partial<AppOptions> = {}) {
  const engine = Engine.open(tempDir(t));
  const app = buildApp({ engine, workers: 1, ...options });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  return { app, engine };
}

const ndjson = (lines: unknown[]): string => lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
const NDJSON = { 'content-type': 'application/x-ndjson' };

t.test('collections: create, list, get with statistics, delete', async (t) => {
  const { app } = setup(t);
  const created = await app.inject({ method: 'POST', url: '/collections', payload: { name: 'papers', encoder: { type: 'bm25', k1: 1.2, b: 0.75 } } });
  t.equal(created.statusCode, 201);
  t.equal(created.headers.location, '/collections/papers');
  t.match(created.json(), { name: 'papers', encoder: { type: 'bm25', k1: 1.2, b: 0.75 }, statistics: { documents: 0, segments: 0 } });

  const again = await app.inject({ method: 'POST', url: '/collections', payload: { name: 'papers' } });
  t.equal(again.statusCode, 409);
  t.equal(again.json().error.code, 'COLLECTION_EXISTS');

  for (const [payload, code] of [
    [{ name: 'bad name!' }, 'INVALID_COLLECTION_NAME'],
    [{ name: 'x', encoder: { type: 'word2vec' } }, 'UNKNOWN_ENCODER'],
    [{ name: 'x', encoder: { type: 'bm25', b: 7 } }, 'INVALID_ENCODER_CONFIG'],
    [{ name: 'x', colour: 'red' }, 'VALIDATION_FAILED'],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/collections', payload });
    t.equal(res.statusCode, 400, `${code}: status`);
    t.equal(res.json().error.code, code);
  }

  await app.inject({ method: 'PUT', url: '/collections/papers/documents/a', payload: { title: 'Sparrows', text: 'Small birds.' } });
  const list = await app.inject({ method: 'GET', url: '/collections' });
  t.same(list.json().collections.map((c: { name: string; documents: number }) => [c.name, c.documents]), [['papers', 1]]);
  const detail = (await app.inject({ method: 'GET', url: '/collections/papers' })).json();
  t.equal(detail.statistics.documents, 1);
  t.ok(detail.statistics.terms >= 2);
  t.ok(detail.statistics.bytes.documents > 0 && detail.statistics.bytes.total >= detail.statistics.bytes.documents);
  t.type(detail.index.segmentMinDocs, 'number', 'index parameters are reported');

  const deleted = await app.inject({ method: 'DELETE', url: '/collections/papers' });
  t.same(deleted.json(), { name: 'papers', result: 'deleted' });
  t.equal((await app.inject({ method: 'GET', url: '/collections/papers' })).json().error.code, 'COLLECTION_NOT_FOUND');
  t.equal((await app.inject({ method: 'DELETE', url: '/collections/papers' })).statusCode, 404);
});

t.test('documents: upsert by id, get, delete', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  const put = await app.inject({ method: 'PUT', url: '/collections/c/documents/doc%201', payload: { title: 'First', text: 'The first version', tag: 'x' } });
  t.equal(put.statusCode, 201);
  t.same(put.json(), { id: 'doc 1', result: 'created' });
  const replace = await app.inject({ method: 'PUT', url: '/collections/c/documents/doc%201', payload: { id: 'doc 1', text: 'The second version' } });
  t.equal(replace.statusCode, 200);
  t.same(replace.json(), { id: 'doc 1', result: 'updated' });
  t.same((await app.inject({ method: 'GET', url: '/collections/c/documents/doc%201' })).json(), { id: 'doc 1', fields: { text: 'The second version' } });

  const cases: [string, Record<string, unknown>, number, string][] = [
    ['id mismatch', { method: 'PUT', url: '/collections/c/documents/a', payload: { id: 'b', text: 'x' } }, 400, 'ID_MISMATCH'],
    ['no text', { method: 'PUT', url: '/collections/c/documents/a', payload: { title: '', text: '   ' } }, 400, 'EMPTY_DOCUMENT'],
    ['array body', { method: 'PUT', url: '/collections/c/documents/a', payload: [1, 2] }, 400, 'VALIDATION_FAILED'],
    ['id too long', { method: 'PUT', url: `/collections/c/documents/${'x'.repeat(600)}`, payload: { text: 'x' } }, 400, 'VALIDATION_FAILED'],
    ['id far too long', { method: 'PUT', url: `/collections/c/documents/${'x'.repeat(9000)}`, payload: { text: 'x' } }, 414, 'URI_TOO_LONG'],
    ['bad escape in id', { method: 'GET', url: '/collections/c/documents/%E0%A4%A' }, 400, 'BAD_REQUEST'],
    ['unknown collection', { method: 'PUT', url: '/collections/nope/documents/a', payload: { text: 'x' } }, 404, 'COLLECTION_NOT_FOUND'],
    ['missing document', { method: 'GET', url: '/collections/c/documents/missing' }, 404, 'DOCUMENT_NOT_FOUND'],
    ['delete missing', { method: 'DELETE', url: '/collections/c/documents/missing' }, 404, 'DOCUMENT_NOT_FOUND'],
  ];
  for (const [name, request, status, code] of cases) {
    const res = await app.inject(request as never);
    t.equal(res.statusCode, status, `${name}: status`);
    t.equal(res.json().error?.code, code, `${name}: code`);
  }
  t.same((await app.inject({ method: 'DELETE', url: '/collections/c/documents/doc%201' })).json(), { id: 'doc 1', result: 'deleted' });
  const search = await app.inject({ method: 'POST', url: '/collections/c/search', payload: { query: 'version' } });
  t.same(search.json().hits, [], 'a deleted document leaves search at once');
});

t.test('bulk NDJSON: per-line results, a bad line fails alone, order is kept', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  const body = ndjson([
    { id: 'a', text: 'alpha document' },
    '{"id": "b", "text": ',
    { _id: 'c', title: 'Gamma', text: 'gamma document', year: 2020 },
    { text: 'no id here' },
    { id: 'd', text: '' },
    '',
    { _op: 'delete', id: 'a' },
    { _op: 'delete', id: 'never-existed' },
    { _op: 'replace', id: 'c' },
    { _op: 'upsert', id: 'a', text: 'alpha is back' },
    [1, 2],
  ]);
  const res = await app.inject({ method: 'POST', url: '/collections/c/documents/_bulk', headers: NDJSON, payload: body });
  t.equal(res.statusCode, 200);
  const out = res.json();
  // "a" is indexed twice: once on line 1 and, after its delete on line 7, again on line 10.
  t.match(out, { errors: true, indexed: 3, deleted: 1, not_found: 1, failed: 5 });
  t.same(
    out.items.map((i: { line: number; result: string; error?: { code: string } }) => [i.line, i.result, i.error?.code]),
    [
      [1, 'upserted', undefined],
      [2, 'error', 'INVALID_JSON'],
      [3, 'upserted', undefined],
      [4, 'error', 'MISSING_ID'],
      [5, 'error', 'EMPTY_DOCUMENT'],
      [7, 'deleted', undefined],
      [8, 'not_found', undefined],
      [9, 'error', 'INVALID_OPERATION'],
      [10, 'upserted', undefined],
      [11, 'error', 'INVALID_DOCUMENT'],
    ],
  );
  t.same((await app.inject({ method: 'GET', url: '/collections/c/documents/a' })).json().fields, { text: 'alpha is back' }, 'the re-upsert after the delete wins');
  t.equal((await app.inject({ method: 'GET', url: '/collections/c' })).json().statistics.documents, 2);

  const json = await app.inject({ method: 'POST', url: '/collections/c/documents/_bulk', payload: { id: 'x' } });
  t.equal(json.statusCode, 415, 'a JSON body is not NDJSON');
  t.equal(json.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
  const missing = await app.inject({ method: 'POST', url: '/collections/nope/documents/_bulk', headers: NDJSON, payload: ndjson([{ id: 'a', text: 'x' }]) });
  t.equal(missing.json().error.code, 'COLLECTION_NOT_FOUND');
});

t.test('bulk limits: line size, line count and body size answer 413 and say what was applied', async (t) => {
  const { app } = setup(t, { limits: { lineBytes: 200, bulkLines: 3, bulkBytes: 2000 } });
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  const longLine = await app.inject({
    method: 'POST',
    url: '/collections/c/documents/_bulk',
    headers: NDJSON,
    payload: ndjson([{ id: 'a', text: 'short' }, { id: 'b', text: 'y'.repeat(500) }]),
  });
  t.equal(longLine.statusCode, 200);
  t.same(longLine.json().items.map((i: { result: string; error?: { code: string } }) => i.error?.code ?? i.result), ['upserted', 'LINE_TOO_LONG']);
  const many = await app.inject({
    method: 'POST',
    url: '/collections/c/documents/_bulk',
    headers: NDJSON,
    payload: ndjson([1, 2, 3, 4, 5].map((i) => ({ id: `n${i}`, text: `number ${i}` }))),
  });
  t.equal(many.statusCode, 413);
  t.equal(many.json().error.code, 'PAYLOAD_TOO_LARGE');
  t.equal(many.json().error.details.applied_through_line, 3);
  t.equal((await app.inject({ method: 'GET', url: '/collections/c/documents/n3' })).statusCode, 200, 'lines before the limit are applied');
  t.equal((await app.inject({ method: 'GET', url: '/collections/c/documents/n4' })).statusCode, 404);
  const big = await app.inject({ method: 'POST', url: '/collections/c/documents/_bulk', headers: NDJSON, payload: 'z'.repeat(5000) });
  t.equal(big.statusCode, 413);
  t.equal(big.json().error.code, 'PAYLOAD_TOO_LARGE');
});

t.test('search: text or vector, k, fields, explain, filter, modes', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'papers' } });
  const docs = [
    { id: 'p1', title: 'Sparse retrieval', text: 'Learned sparse retrieval with term weights.', year: 2021, venue: 'sigir' },
    { id: 'p2', title: 'Dense retrieval', text: 'Dense vectors and nearest neighbours for retrieval.', year: 2020, venue: 'emnlp' },
    { id: 'p3', title: 'Inverted indexes', text: 'Compressing inverted indexes for sparse retrieval.', year: 2019, venue: 'sigir' },
  ];
  await app.inject({ method: 'POST', url: '/collections/papers/documents/_bulk', headers: NDJSON, payload: ndjson(docs) });
  const search = async (payload: Record<string, unknown>) => {
    const res = await app.inject({ method: 'POST', url: '/collections/papers/search', payload });
    t.equal(res.statusCode, 200, JSON.stringify(payload));
    return res.json();
  };
  const all = await search({ query: 'sparse retrieval', k: 10, explain: true });
  t.same(all.hits.map((h: { id: string }) => h.id).sort(), ['p1', 'p2', 'p3']);
  t.equal(all.hits[0].fields.venue, 'sigir');
  const explained = all.hits[0].explain as { term: string; queryWeight: number; documentValue: number; score: number }[];
  t.ok(explained.length >= 1);
  for (const term of explained) t.ok(term.queryWeight > 0 && term.documentValue > 0 && term.score > 0, `term ${term.term} carries its weights`);
  t.equal(all.mode, 'exact');

  t.equal((await search({ query: 'retrieval', k: 1 })).hits.length, 1);
  t.same((await search({ query: 'retrieval', k: 1, fields: false })).hits[0].fields, undefined);
  t.same(Object.keys((await search({ query: 'retrieval', k: 1, fields: ['year'] })).hits[0].fields), ['year']);
  t.same((await search({ query: { dens: 2.5 } })).hits.map((h: { id: string }) => h.id), ['p2']);

  const filtered = async (filter: unknown) => (await search({ query: 'retrieval', filter })).hits.map((h: { id: string }) => h.id).sort();
  t.same(await filtered({ venue: 'sigir' }), ['p1', 'p3']);
  t.same(await filtered({ year: { gte: 2020 } }), ['p1', 'p2']);
  t.same(await filtered({ year: { in: [2019, 2021] } }), ['p1', 'p3']);
  t.same(await filtered({ or: [{ year: 2019 }, { venue: 'emnlp' }] }), ['p2', 'p3']);
  t.same(await filtered({ not: { venue: 'sigir' } }), ['p2']);
  t.same(await filtered({ and: [{ venue: 'sigir' }, { year: { lt: 2020 } }] }), ['p3']);
  t.same((await search({ query: 'retrieval', mode: 'exact' })).mode, 'exact');
  const approximate = await search({ query: 'retrieval', mode: 'approximate', approximate: { query_cut: 5, heap_factor: 0.9 } });
  t.ok(approximate.hits.length >= 1, 'approximate mode answers (from the unsegmented tail while no segment exists)');
});

t.test('search errors are coded 4xx and never 5xx', async (t) => {
  const { app } = setup(t, { limits: { queryTerms: 4 } });
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  await app.inject({ method: 'PUT', url: '/collections/c/documents/a', payload: { text: 'some text' } });
  let deep: Record<string, unknown> = { a: 1 };
  for (let i = 0; i < 12; i++) deep = { not: deep };
  const cases: [string, unknown, number, string][] = [
    ['too many text terms', { query: 'one two three four five six' }, 400, 'TOO_MANY_QUERY_TERMS'],
    ['too many vector terms', { query: { a: 1, b: 1, c: 1, d: 1, e: 1 } }, 400, 'VALIDATION_FAILED'],
    ['k zero', { query: 'x', k: 0 }, 400, 'VALIDATION_FAILED'],
    ['k fractional', { query: 'x', k: 2.5 }, 400, 'VALIDATION_FAILED'],
    ['negative weight', { query: { some: -0.5 } }, 400, 'NEGATIVE_WEIGHT'],
    ['null weight', { query: { some: null } }, 400, 'INVALID_WEIGHT'],
    ['query is a number', { query: 42 }, 400, 'VALIDATION_FAILED'],
    ['unknown mode', { query: 'x', mode: 'fast' }, 400, 'VALIDATION_FAILED'],
    ['bad heap factor', { query: 'x', approximate: { heap_factor: 2 } }, 400, 'VALIDATION_FAILED'],
    // The filter grammar's own codes and messages, as the CLI gives them, not the schema validator's.
    ['filter operator', { query: 'x', filter: { year: { near: 3 } } }, 400, 'INVALID_FILTER'],
    ['filter list value', { query: 'x', filter: { year: [1, 2] } }, 400, 'INVALID_FILTER'],
    ['filter empty and', { query: 'x', filter: { and: [] } }, 400, 'INVALID_FILTER'],
    ['filter too deep', { query: 'x', filter: deep }, 400, 'FILTER_TOO_COMPLEX'],
    ['filter bad field name', { query: 'x', filter: { "x') OR 1=1 --": 1 } }, 400, 'INVALID_FILTER'],
  ];
  for (const [name, payload, status, code] of cases) {
    const res = await app.inject({ method: 'POST', url: '/collections/c/search', payload: payload as never });
    t.equal(res.statusCode, status, `${name}: status`);
    t.equal(res.json().error?.code, code, `${name}: code`);
  }
  const operator = await app.inject({ method: 'POST', url: '/collections/c/search', payload: { query: 'x', filter: { year: { $gte: 2015 } } } });
  t.match(operator.json().error.message, /unknown operator "\$gte" on year; use /, 'the message names the operator and the ones there are');
  const nan = await app.inject({ method: 'POST', url: '/collections/c/search', headers: { 'content-type': 'application/json' }, payload: '{"query": {"some": NaN}}' });
  t.equal(nan.json().error.code, 'MALFORMED_JSON', 'NaN is not JSON');
  const huge = await app.inject({ method: 'POST', url: '/collections/c/search', headers: { 'content-type': 'application/json' }, payload: '{"query": {"some": 1e999}}' });
  t.equal(huge.statusCode, 400, 'an overflowing weight is rejected');
  const text = await app.inject({ method: 'POST', url: '/collections/c/search', headers: { 'content-type': 'text/plain' }, payload: 'query' });
  t.equal(text.json().error.code, 'UNSUPPORTED_MEDIA_TYPE');
  const empty = await app.inject({ method: 'POST', url: '/collections/c/search', headers: { 'content-type': 'application/json' }, payload: '' });
  t.equal(empty.json().error.code, 'MALFORMED_JSON');
});

t.test('health, readiness, metrics, request ids', async (t) => {
  let ready = false;
  const { app } = setup(t, { isReady: () => ready });
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
  const starting = await app.inject({ method: 'GET', url: '/ready' });
  t.equal(starting.statusCode, 503);
  t.equal(starting.json().error.code, 'NOT_READY');
  ready = true;
  t.same((await app.inject({ method: 'GET', url: '/ready' })).json(), { status: 'ready' });
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  await app.inject({ method: 'POST', url: '/collections/c/documents/_bulk', headers: NDJSON, payload: ndjson([{ id: 'a', text: 'x y' }, 'oops']) });
  for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/collections/c/search', payload: { query: 'x' } });
  await app.inject({ method: 'GET', url: '/no/such/route' });
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  t.equal(metrics.statusCode, 200);
  t.match(metrics.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const text = metrics.body;
  t.match(text, /# TYPE sparrow_http_request_duration_seconds histogram/);
  t.match(text, /sparrow_http_request_duration_seconds_count\{method="POST",route="\/collections\/:name\/search"\} 3/);
  t.match(text, /sparrow_http_request_duration_seconds_bucket\{method="POST",route="\/collections\/:name\/search",le="\+Inf"\} 3/);
  t.match(text, /sparrow_http_requests_total\{method="GET",route="unmatched",status="404"\} 1/, 'unknown URLs share one series');
  t.match(text, /sparrow_collection_documents\{collection="c"\} 1/);
  t.match(text, /sparrow_collection_segments\{collection="c"\} 0/);
  t.match(text, /sparrow_bulk_documents_total\{result="failed"\} 1/);
  t.match(text, /sparrow_jobs\{status="running"\} 0/);
  for (const line of text.trim().split('\n')) {
    if (!line.startsWith('#')) t.match(line, /^[a-z_]+(\{[^}]*\})? (-?[0-9.e+-]+|NaN|\+Inf)$/, `exposition line: ${line}`);
  }
  t.match(metrics.headers['x-request-id'], /\S+/);
});

t.test('the OpenAPI document comes from the validating schemas, and Swagger UI is served', async (t) => {
  const { app } = setup(t);
  const res = await app.inject({ method: 'GET', url: '/docs/json' });
  t.equal(res.statusCode, 200);
  const doc = res.json();
  t.match(doc.openapi, /^3\./);
  for (const route of ['/collections', '/collections/{name}', '/collections/{name}/documents/{id}', '/collections/{name}/documents/_bulk', '/collections/{name}/search', '/jobs', '/jobs/{id}', '/health', '/ready', '/metrics']) {
    t.ok(doc.paths[route], `documents ${route}`);
  }
  const search = doc.paths['/collections/{name}/search'].post;
  const schema = search.requestBody.content['application/json'].schema;
  t.same(schema.anyOf, [{ required: ['query'] }, { required: ['dense_vector'] }], 'a search needs a query or a dense vector');
  t.equal(schema.properties.k.maximum, 10_000, 'the limit the validator enforces is the one documented');
  t.ok(doc.components.schemas.SearchFilter, 'the filter grammar is a named component');
  t.ok(doc.components.schemas.ErrorResponse);
  t.ok(doc.paths['/collections/{name}/documents/_bulk'].post.requestBody.content['application/x-ndjson'], 'NDJSON bodies are documented');
  t.ok(doc.paths['/jobs'].post.requestBody.content['application/json'] && doc.paths['/jobs'].post.requestBody.content['application/gzip']);
  const ui = await app.inject({ method: 'GET', url: '/docs/' });
  t.equal(ui.statusCode, 200);
  t.match(ui.body, /swagger/i);
});

t.test('bulk and search over real loopback HTTP, streamed in chunks', async (t) => {
  const { app } = setup(t);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  await fetch(`${address}/collections`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'live' }) });
  const lines = Array.from({ length: 3000 }, (_, i) => JSON.stringify({ id: `d${i}`, text: `document ${i} about topic${i % 17}` }) + '\n');
  // A body sent in pieces split mid-line, as a slow client would.
  const encoder = new TextEncoder();
  const whole = encoder.encode(lines.join(''));
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let offset = 0; offset < whole.length; offset += 7777) controller.enqueue(whole.subarray(offset, offset + 7777));
      controller.close();
    },
  });
  const bulk = await fetch(`${address}/collections/live/documents/_bulk`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body,
    duplex: 'half',
  } as RequestInit);
  t.equal(bulk.status, 200);
  const result = (await bulk.json()) as { indexed: number; failed: number };
  t.equal(result.indexed, 3000);
  t.equal(result.failed, 0);
  const search = await fetch(`${address}/collections/live/search`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: 'topic5', k: 500 }) });
  const hits = ((await search.json()) as { hits: { id: string }[] }).hits;
  t.equal(hits.length, Math.ceil((3000 - 5) / 17));
});

t.test('rough edges a new user meets: an Elasticsearch-style bulk body, a query of stop words only', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  const bulk = await app.inject({
    method: 'POST',
    url: '/collections/c/documents/_bulk',
    headers: NDJSON,
    payload: ndjson([{ index: { _id: '1' } }, { title: 'Sparrows', text: 'small birds' }, { id: '2', text: 'a plain line' }]),
  });
  const items = bulk.json().items;
  t.equal(items[0].error.code, 'BULK_ACTION_LINE', 'the action line is recognised');
  t.match(items[0].error.message, /\/_os\/INDEX\/_bulk/, 'and the message says where such bodies go');
  t.equal(items[2].result, 'upserted', 'a plain line beside it is written');
  const stop = await app.inject({ method: 'POST', url: '/collections/c/search', payload: { query: 'the and of' } });
  t.match(stop.json().warnings, [/every word of the query is a stop word/], 'a query of stop words says so');
  const unknown = await app.inject({ method: 'POST', url: '/collections/c/search', payload: { query: 'zebra' } });
  t.match(unknown.json().warnings, [/no term present in the collection/], 'a word the collection lacks is told apart');
});

t.test('paging: from and k, pages that line up, the deepest page refused by code', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'c' } });
  const lines = Array.from({ length: 40 }, (_, i) => ({ id: `d${i}`, text: `sparrow ${'song '.repeat(1 + (i % 7))} number ${i}` }));
  await app.inject({ method: 'POST', url: '/collections/c/documents/_bulk', headers: NDJSON, payload: ndjson(lines) });
  const search = (body: object) => app.inject({ method: 'POST', url: '/collections/c/search', payload: { query: 'sparrow song', fields: false, ...body } });
  const whole = (await search({ k: 30 })).json();
  const pages: string[] = [];
  for (let from = 0; from < 30; from += 7) pages.push(...(await search({ from, k: Math.min(7, 30 - from) })).json().hits.map((h: { id: string }) => h.id));
  t.same(pages, whole.hits.map((h: { id: string }) => h.id), 'pages of 7 line up with one page of 30');
  t.same(whole.total, { value: 40, relation: 'eq' }, 'every page reports the whole match count');
  const deep = await search({ from: 9995, k: 10 });
  t.same([deep.statusCode, deep.json().error.code], [400, 'RESULT_WINDOW_TOO_LARGE']);
  const highlighted = (await search({ from: 5, k: 2, highlight: {} })).json();
  t.same(highlighted.hits.map((h: { id: string }) => h.id), whole.hits.slice(5, 7).map((h: { id: string }) => h.id), 'a highlighted page is the same page');
  t.ok(highlighted.hits.every((h: { highlight: object }) => Object.keys(h.highlight).length > 0), 'and its hits are highlighted');
});

t.test('multi-search, count, and fields on a document read', async (t) => {
  const { app } = setup(t);
  for (const name of ['a', 'b']) await app.inject({ method: 'POST', url: '/collections', payload: { name } });
  await app.inject({ method: 'POST', url: '/collections/a/documents/_bulk', headers: NDJSON, payload: ndjson([{ id: '1', text: 'sparrows sing', year: 2020 }, { id: '2', text: 'hawks hunt sparrows', year: 2010 }, { id: '3', text: 'owls', year: 2021 }]) });
  await app.inject({ method: 'PUT', url: '/collections/b/documents/x', payload: { text: 'sparrows in b' } });
  const alone = await Promise.all([
    app.inject({ method: 'POST', url: '/collections/a/search', payload: { query: 'sparrow', k: 5 } }),
    app.inject({ method: 'POST', url: '/collections/b/search', payload: { query: 'sparrow', filter: { text: { exists: true } } } }),
  ]);
  const multi = await app.inject({
    method: 'POST',
    url: '/_msearch',
    payload: { searches: [{ collection: 'a', query: 'sparrow', k: 5 }, { collection: 'b', query: 'sparrow', filter: { text: { exists: true } } }, { collection: 'nope', query: 'x' }, { collection: 'a', query: { sparrow: -1 } }] },
  });
  t.equal(multi.statusCode, 200);
  const responses = multi.json().responses;
  const strip = (r: { hits: { id: string; score: number }[]; total: unknown }) => ({ hits: r.hits.map((h) => [h.id, h.score]), total: r.total });
  t.same(strip(responses[0]), strip(alone[0].json()), 'the first search, as if sent alone');
  t.same(strip(responses[1]), strip(alone[1].json()), 'the second, over another collection');
  t.same([responses[2].status, responses[2].error.code], [404, 'COLLECTION_NOT_FOUND'], 'a failing search answers its own error in its place');
  t.same([responses[3].status, responses[3].error.code], [400, 'NEGATIVE_WEIGHT']);
  const malformed = await app.inject({ method: 'POST', url: '/_msearch', payload: { searches: [{ collection: 'a', query: 'x', k: 0 }] } });
  t.same([malformed.statusCode, malformed.json().error.code], [400, 'VALIDATION_FAILED'], 'a malformed search fails the request, as it would alone');
  const count = await app.inject({ method: 'POST', url: '/collections/a/_count', payload: { query: 'sparrow', filter: { year: { gte: 2015 } } } });
  t.same(count.json(), { count: 1 });
  t.same((await app.inject({ method: 'POST', url: '/collections/a/_count', payload: {} })).json(), { count: 3 }, 'no query: every document');
  t.same((await app.inject({ method: 'POST', url: '/collections/a/_count', payload: { filter: { year: { lt: 2021 } } } })).json(), { count: 2 }, 'a filter alone');
  const picked = await app.inject({ method: 'GET', url: '/collections/a/documents/1?fields=year,missing' });
  t.same(picked.json(), { id: '1', fields: { year: 2020 } }, 'fields= picks stored fields');
});

t.test('aliases: searches follow the alias, a swap is one step, a collection behind one is kept', async (t) => {
  const { app } = setup(t);
  for (const [name, text] of [['v1', 'old sparrows'], ['v2', 'new sparrows']] as const) {
    await app.inject({ method: 'POST', url: '/collections', payload: { name } });
    await app.inject({ method: 'PUT', url: `/collections/${name}/documents/d`, payload: { text } });
  }
  const created = await app.inject({ method: 'PUT', url: '/aliases/live', payload: { collection: 'v1' } });
  t.same([created.statusCode, created.json()], [201, { alias: 'live', collection: 'v1' }]);
  const textVia = async () => (await app.inject({ method: 'POST', url: '/collections/live/search', payload: { query: 'sparrows' } })).json().hits[0].fields.text;
  t.equal(await textVia(), 'old sparrows', 'a search through the alias reaches v1');
  // Swaps and searches interleaved: every answer comes from one collection or the other.
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? app.inject({ method: 'PUT', url: '/aliases/live', payload: { collection: i % 4 === 0 ? 'v2' : 'v1' } }).then(() => 'swap') : textVia())),
  );
  t.ok(answers.filter((a) => a !== 'swap').every((a) => a === 'old sparrows' || a === 'new sparrows'), 'no search fell between the two');
  const moved = await app.inject({ method: 'PUT', url: '/aliases/live', payload: { collection: 'v2' } });
  t.same([moved.statusCode, moved.json().collection], [200, 'v2']);
  t.equal(await textVia(), 'new sparrows', 'after the swap the alias reaches v2');
  t.same((await app.inject({ method: 'GET', url: '/aliases' })).json(), { aliases: [{ alias: 'live', collection: 'v2' }] });
  const inUse = await app.inject({ method: 'DELETE', url: '/collections/v2' });
  t.same([inUse.statusCode, inUse.json().error.code], [409, 'ALIAS_IN_USE']);
  t.equal(await textVia(), 'new sparrows', 'a refused delete leaves the collection as it was');
  t.equal((await app.inject({ method: 'PUT', url: '/aliases/v1', payload: { collection: 'v2' } })).json().error.code, 'ALIAS_NAME_TAKEN');
  t.equal((await app.inject({ method: 'POST', url: '/collections', payload: { name: 'live' } })).json().error.code, 'COLLECTION_EXISTS');
  t.equal((await app.inject({ method: 'PUT', url: '/aliases/x', payload: { collection: 'nope' } })).json().error.code, 'COLLECTION_NOT_FOUND');
  t.equal((await app.inject({ method: 'DELETE', url: '/aliases/live' })).statusCode, 200);
  t.equal((await app.inject({ method: 'GET', url: '/aliases/live' })).json().error.code, 'ALIAS_NOT_FOUND');
  t.equal((await app.inject({ method: 'DELETE', url: '/collections/v2' })).statusCode, 200, 'with the alias gone the collection can go');
});

t.test('PATCH /collections/NAME: query defaults and build thresholds change, what shapes the index does not', async (t) => {
  const { app, engine } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'v', encoder: { type: 'precomputed' } } });
  const patched = await app.inject({ method: 'PATCH', url: '/collections/v', payload: { index: { query: { heapFactor: 0.5, queryCut: 7 }, segmentMinDocs: 3 } } });
  t.equal(patched.statusCode, 200, patched.body);
  t.match(patched.json().index, { query: { heapFactor: 0.5, queryCut: 7 }, segmentMinDocs: 3 });
  t.match((await app.inject({ method: 'GET', url: '/collections/v' })).json().index, { segmentMinDocs: 3 }, 'GET shows the new settings');
  for (const id of ['a', 'b', 'c']) await app.inject({ method: 'PUT', url: `/collections/v/documents/${id}`, payload: { vector: { x: 1, [id]: 2 } } });
  await engine.idle();
  t.ok((await app.inject({ method: 'GET', url: '/collections/v' })).json().statistics.segments >= 1, 'the new threshold built a segment after 3 documents');
  for (const [payload, code] of [
    [{ index: { build: { summaryEnergy: 0.5 } } }, 'SETTING_NEEDS_REBUILD'],
    [{ encoder: { type: 'bm25' } }, 'SETTING_NEEDS_REBUILD'],
    [{ index: { query: { heapFactor: 3 } } }, 'INVALID_INDEX_SETTINGS'],
    [{ index: { colour: 1 } }, 'INVALID_INDEX_SETTINGS'],
  ] as const) {
    const res = await app.inject({ method: 'PATCH', url: '/collections/v', payload });
    t.same([res.statusCode, res.json().error.code], [400, code], `${JSON.stringify(payload)}: ${code}`);
  }
  t.match((await app.inject({ method: 'GET', url: '/collections/v' })).json().index, { query: { heapFactor: 0.5 } }, 'a refused change changed nothing');
});

t.test('snapshots: a consistent copy while writes go on, restored document for document, searches equal', async (t) => {
  const { app, engine } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'v', encoder: { type: 'precomputed' }, index: { segmentMinDocs: 50, build: { forwardValues: 'f32' } } } });
  const vector = (i: number) => ({ [`t${i % 17}`]: 1 + (i % 5), [`t${(i * 7) % 23}`]: 0.5 + (i % 3), [`u${i % 11}`]: 0.25 });
  await app.inject({ method: 'POST', url: '/collections/v/documents/_bulk', headers: NDJSON, payload: ndjson(Array.from({ length: 300 }, (_, i) => ({ id: `d${i}`, vector: vector(i), n: i }))) });
  await engine.idle();
  // Writes of new documents race the snapshot: it holds the 300 and any of the new ones, whole.
  const writes = Array.from({ length: 20 }, (_, i) => app.inject({ method: 'PUT', url: `/collections/v/documents/new${i}`, payload: { vector: vector(i + 1000), n: 1000 + i } }));
  const snapshot = await app.inject({ method: 'POST', url: '/collections/v/_snapshot', payload: { snapshot: 'first' } });
  await Promise.all(writes);
  t.equal(snapshot.statusCode, 201, snapshot.body);
  const manifest = snapshot.json();
  t.ok(manifest.documents >= 300 && manifest.segments.length >= 1, `${manifest.documents} documents, ${manifest.segments.length} segment files`);
  const restored = await app.inject({ method: 'POST', url: '/snapshots/first/_restore', payload: { collection: 'copy' } });
  t.same([restored.statusCode, restored.json().collection], [201, 'copy']);
  const copy = engine.collection('copy');
  const original = engine.collection('v');
  let compared = 0;
  for (let i = 0; i < 300; i++) {
    const a = original.get(`d${i}`)!;
    const b = copy.get(`d${i}`);
    if (!b || JSON.stringify(b.fields) !== JSON.stringify(a.fields) || JSON.stringify(copy.sparseVectorOf(`d${i}`)) !== JSON.stringify(original.sparseVectorOf(`d${i}`))) t.fail(`d${i} differs`);
    compared++;
  }
  t.equal(compared, 300, 'every document restored with its fields and vector');
  const copied = copy.statistics().documents;
  t.ok(copied >= 300 && copied <= 320, `the copy holds the 300 and ${copied - 300} of the racing writes`);
  for (const mode of ['exact', 'approximate'] as const) {
    const query = { t3: 1, t10: 0.5 };
    const fromCopy = copy.search({ query, k: 10, mode, ...(mode === 'approximate' ? { approximate: { heapFactor: 0, queryCut: 10 } } : {}) });
    const fromOriginal = copy.search({ query, k: 10, mode: 'exact' });
    t.same(fromCopy.hits.map((h) => h.id).sort(), fromOriginal.hits.map((h) => h.id).sort(), `${mode} search of the copy finds the exact top 10`);
    t.equal(fromCopy.mode, mode, `answered ${mode} (the restored segment files open)`);
  }
  t.ok(copy.segmentStatistics().segments.length >= 1, 'the copy searches its restored segments');
  t.equal((await app.inject({ method: 'POST', url: '/collections/v/_snapshot', payload: { snapshot: 'first' } })).json().error.code, 'SNAPSHOT_EXISTS');
  t.equal((await app.inject({ method: 'POST', url: '/snapshots/none/_restore', payload: { collection: 'x' } })).json().error.code, 'SNAPSHOT_NOT_FOUND');
  t.equal((await app.inject({ method: 'POST', url: '/collections/v/_snapshot', payload: { snapshot: '../escape' } })).json().error.code, 'INVALID_SNAPSHOT_NAME');
  t.equal((await app.inject({ method: 'POST', url: '/snapshots/first/_restore', payload: { collection: 'copy' } })).json().error.code, 'COLLECTION_EXISTS');
  const segment = manifest.segments[0].file as string;
  fs.appendFileSync(path.join(engine.dataDir, 'snapshots', 'first', 'segments', segment), 'x');
  const damaged = await app.inject({ method: 'POST', url: '/snapshots/first/_restore', payload: { collection: 'copy2' } });
  t.same([damaged.statusCode, damaged.json().error.code], [400, 'INVALID_SNAPSHOT'], 'a damaged segment file is found before anything is written');
  t.notOk(engine.findCollection('copy2'));
});

t.test('facets: counts per value and per range over every match, not only the k returned', async (t) => {
  const { app } = setup(t);
  await app.inject({ method: 'POST', url: '/collections', payload: { name: 'f' } });
  const docs = Array.from({ length: 60 }, (_, i) => ({ id: `d${i}`, text: i % 4 === 0 ? 'hawks' : 'sparrows sing', venue: ['ecology', 'birds', 'cities'][i % 3], year: 2000 + (i % 20), open: i % 2 === 0 }));
  await app.inject({ method: 'POST', url: '/collections/f/documents/_bulk', headers: NDJSON, payload: ndjson(docs) });
  const res = await app.inject({
    method: 'POST',
    url: '/collections/f/search',
    payload: {
      query: 'sparrows',
      k: 2,
      filter: { year: { gte: 2005 } },
      facets: { venue: { type: 'terms', size: 2 }, year: { type: 'range', ranges: [{ key: 'early', to: 2010 }, { from: 2010, to: 2015 }, { from: 2015 }] }, open: { type: 'terms' } },
    },
  });
  t.equal(res.statusCode, 200, res.body);
  const answer = res.json();
  const matching = docs.filter((d) => d.text.includes('sparrows') && d.year >= 2005);
  t.equal(answer.hits.length, 2, 'k hits returned');
  const venues = new Map<string, number>();
  for (const d of matching) venues.set(d.venue, (venues.get(d.venue) ?? 0) + 1);
  const expected = [...venues].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  t.same(answer.facets.venue.buckets, expected.slice(0, 2).map(([value, count]) => ({ value, count })), 'the two most frequent venues among all matches');
  t.equal(answer.facets.venue.other, expected.slice(2).reduce((s, [, c]) => s + c, 0), 'and the rest counted as other');
  t.same(
    answer.facets.year.buckets.map((b: { count: number }) => b.count),
    [matching.filter((d) => d.year < 2010).length, matching.filter((d) => d.year >= 2010 && d.year < 2015).length, matching.filter((d) => d.year >= 2015).length],
    'ranges include from and exclude to',
  );
  t.equal(answer.facets.year.buckets[0].key, 'early');
  t.same(answer.facets.open.buckets.map((b: { value: boolean }) => typeof b.value), ['boolean', 'boolean'], 'booleans stay booleans');
  t.equal(answer.total.value, matching.length, 'the total and the facets count the same documents');
  const bad = await app.inject({ method: 'POST', url: '/collections/f/search', payload: { query: 'x', facets: { "x') --": { type: 'terms' } } } });
  t.same([bad.statusCode, bad.json().error.code], [400, 'INVALID_FACET']);
});
