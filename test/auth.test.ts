import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Engine } from '../src/engine/engine.js';
import { buildApp } from '../src/server/app.js';
import { ApiKeys, isLoopbackHost, presentedKey } from '../src/server/auth.js';
import { RateLimiter } from '../src/server/rate-limit.js';
import { cliPath } from './support/paths.js';
import { tempDir } from './support/tmp.js';

const ADMIN = 'admin-key-0123456789abcdef';
const WRITER = 'write-key-0123456789abcdef';
const READER = 'read-key-0123456789abcdefg';

function setup(t: { teardown: (fn: () => unknown) => void }, rateLimit = { perSecond: 0 }) {
  const engine = Engine.open(tempDir(t));
  const keys = new ApiKeys([
    { name: 'ops', role: 'admin', key: ADMIN },
    { name: 'indexer', role: 'write', key: WRITER },
    { name: 'frontend', role: 'read', key: READER },
  ]);
  const app = buildApp({ engine, keys, rateLimit, workers: 0 });
  t.teardown(async () => {
    await app.close();
    engine.close();
  });
  return app;
}

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

t.test('roles: read searches, write changes documents and jobs, admin changes collections', async (t) => {
  const app = setup(t);
  const requests: [string, { method: string; url: string; payload?: unknown }][] = [
    ['create collection', { method: 'POST', url: '/collections', payload: { name: 'c' } }],
    ['put document', { method: 'PUT', url: '/collections/c/documents/a', payload: { text: 'hello world' } }],
    ['get document', { method: 'GET', url: '/collections/c/documents/a' }],
    ['search', { method: 'POST', url: '/collections/c/search', payload: { query: 'hello' } }],
    ['list collections', { method: 'GET', url: '/collections' }],
    ['start job', { method: 'POST', url: '/jobs', payload: { collection: 'c', source: { path: 'x.jsonl' } } }],
    ['delete document', { method: 'DELETE', url: '/collections/c/documents/a' }],
    ['metrics', { method: 'GET', url: '/metrics' }],
    ['delete collection', { method: 'DELETE', url: '/collections/c' }],
  ];
  // Which status each role gets: 403 below the needed role, anything else (the route's own answer) at or above.
  const needed: Record<string, 'read' | 'write' | 'admin'> = {
    'create collection': 'admin',
    'put document': 'write',
    'get document': 'read',
    search: 'read',
    'list collections': 'read',
    'start job': 'write',
    'delete document': 'write',
    metrics: 'read',
    'delete collection': 'admin',
  };
  const rank = { read: 1, write: 2, admin: 3 };
  const keyOf = { read: READER, write: WRITER, admin: ADMIN };
  for (const [name, request] of requests) {
    const anonymous = await app.inject(request as never);
    t.equal(anonymous.statusCode, 401, `${name} without a key`);
    t.equal(anonymous.json().error.code, 'UNAUTHORIZED');
    t.equal(anonymous.headers['www-authenticate'], 'Bearer');
    const wrong = await app.inject({ ...request, headers: bearer('not-a-key-but-long-enough') } as never);
    t.equal(wrong.json().error.code, 'UNAUTHORIZED', `${name} with an unknown key`);
    for (const role of ['read', 'write'] as const) {
      if (rank[role] >= rank[needed[name]!]) continue;
      const refused = await app.inject({ ...request, headers: bearer(keyOf[role]) } as never);
      t.equal(refused.statusCode, 403, `${name} as ${role}`);
      t.match(refused.json().error, { code: 'FORBIDDEN', details: { needed: needed[name], role } });
    }
    const allowed = await app.inject({ ...request, headers: { 'x-api-key': keyOf[needed[name]!] } } as never);
    const code = allowed.headers['content-type']?.toString().startsWith('application/json') ? allowed.json().error?.code : undefined;
    t.notOk(code === 'UNAUTHORIZED' || code === 'FORBIDDEN', `${name} as ${needed[name]}: ${code ?? allowed.statusCode}`);
    t.ok(allowed.statusCode < 500, `${name}: ${allowed.statusCode}`);
  }
  for (const url of ['/health', '/docs/json']) t.equal((await app.inject({ method: 'GET', url })).statusCode, 200, `${url} is public`);
  const withoutKeyFirst = await app.inject({ method: 'POST', url: '/collections/c/documents/_bulk', headers: { 'content-type': 'application/x-ndjson' }, payload: '{"id":"z"}\n' });
  t.equal(withoutKeyFirst.statusCode, 401, 'a streamed body is refused before it is read');
});

t.test('keys: constant-time lookup by digest, configuration from the environment and a file', async (t) => {
  const keys = new ApiKeys([{ name: 'a', role: 'read', key: READER }]);
  t.same(keys.identify(READER), { name: 'a', role: 'read' });
  t.equal(keys.identify(READER.slice(0, -1)), undefined, 'a prefix is not the key');
  t.equal(keys.identify(READER + 'x'), undefined);
  t.equal(keys.identify(''), undefined);
  t.throws(() => new ApiKeys([{ name: 'short', role: 'read', key: 'abc' }]), { code: 'INVALID_KEY_CONFIG' });
  t.throws(() => new ApiKeys([{ name: 'x', role: 'root' as never, key: ADMIN }]), { code: 'INVALID_KEY_CONFIG' });

  const dir = tempDir(t);
  const file = path.join(dir, 'keys.json');
  fs.writeFileSync(file, JSON.stringify({ keys: [{ name: 'ci', role: 'write', key: WRITER }] }));
  const configured = ApiKeys.fromConfiguration({ SPARROW_ADMIN_KEYS: `${ADMIN}, `, SPARROW_READ_KEYS: `${READER},another-read-key-0000000` }, file);
  t.equal(configured.size, 4);
  t.same(configured.identify(ADMIN), { name: 'admin-1', role: 'admin' });
  t.same(configured.identify('another-read-key-0000000'), { name: 'read-2', role: 'read' });
  t.same(configured.identify(WRITER), { name: 'ci', role: 'write' });
  fs.writeFileSync(file, '{"keys": 3}');
  t.throws(() => ApiKeys.fromConfiguration({}, file), { code: 'INVALID_KEY_CONFIG' });

  t.equal(presentedKey({ authorization: 'Bearer abc' }), 'abc');
  t.equal(presentedKey({ authorization: 'bearer   abc ' }), 'abc');
  t.equal(presentedKey({ authorization: 'Basic abc' }), undefined);
  t.equal(presentedKey({ 'x-api-key': 'k' }), 'k');
  for (const host of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.1.2.3']) t.ok(isLoopbackHost(host), host);
  for (const host of ['0.0.0.0', '::', '192.168.1.5', 'example.org']) t.notOk(isLoopbackHost(host), host);
});

t.test('rate limiting: per client token buckets, 429 with Retry-After', async (t) => {
  const limiter = new RateLimiter({ perSecond: 10, burst: 3 });
  t.same([0, 0, 0].map(() => limiter.take('a', 1000)), [0, 0, 0]);
  t.ok(limiter.take('a', 1000) > 0, 'the fourth request at once waits');
  t.equal(limiter.take('b', 1000), 0, 'another client has its own bucket');
  t.equal(limiter.take('a', 1100), 0, 'a token refills after 1/perSecond');

  const app = setup(t, { perSecond: 1, burst: 2 } as never);
  const search = () => app.inject({ method: 'GET', url: '/collections', headers: bearer(READER) });
  t.equal((await search()).statusCode, 200);
  t.equal((await search()).statusCode, 200);
  const limited = await search();
  t.equal(limited.statusCode, 429);
  t.equal(limited.json().error.code, 'RATE_LIMITED');
  t.ok(Number(limited.headers['retry-after']) >= 1);
  t.equal((await app.inject({ method: 'GET', url: '/collections', headers: bearer(ADMIN) })).statusCode, 200, 'keys are limited separately');
  t.equal((await app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'health checks are never limited');
});

t.test('serve refuses a non-loopback address without keys unless told to', async (t) => {
  const data = tempDir(t);
  const env = { ...process.env, SPARROW_ADMIN_KEYS: '', SPARROW_WRITE_KEYS: '', SPARROW_READ_KEYS: '', SPARROW_KEYS_FILE: '' };
  const refused = spawnSync(process.execPath, [cliPath, 'serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', data], { encoding: 'utf8', env, timeout: 20_000 });
  t.equal(refused.status, 1);
  t.match(refused.stderr, /\[UNSAFE_BIND\] refusing to serve 0\.0\.0\.0 without API keys/);
  const weak = spawnSync(process.execPath, [cliPath, 'serve', '--port', '0', '--data-dir', data], { encoding: 'utf8', env: { ...env, SPARROW_READ_KEYS: 'short' }, timeout: 20_000 });
  t.equal(weak.status, 1);
  t.match(weak.stderr, /\[INVALID_KEY_CONFIG\]/);
  const badLimit = spawnSync(process.execPath, [cliPath, 'serve', '--rate-limit', 'lots', '--data-dir', data], { encoding: 'utf8', env, timeout: 20_000 });
  t.equal(badLimit.status, 2);
});
