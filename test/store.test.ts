import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { Store, DATABASE_FILE } from '../src/store/store.js';
import { MIGRATIONS } from '../src/store/migrations.js';
import { decodeVector, encodeVector } from '../src/store/vector-codec.js';
import { tempDir } from './support/tmp.js';

const vec = (ids: number[], values: number[]) => ({ indices: Uint32Array.from(ids), values: Float32Array.from(values) });

t.test('vector codec round-trips and rejects truncated blobs', async (t) => {
  const v = vec([1, 5, 70000], [0.5, 2, 3.25]);
  const decoded = decodeVector(encodeVector(v.indices, v.values));
  t.same([...decoded.indices], [1, 5, 70000]);
  t.same([...decoded.values], [0.5, 2, 3.25]);
  const blob = encodeVector(v.indices, v.values);
  t.throws(() => decodeVector(blob.subarray(0, blob.length - 1)), { code: 'STORE_CORRUPT_VECTOR' });
});

t.test('schema is migrated on open and refuses a newer database', async (t) => {
  const dir = tempDir(t);
  const store = Store.open(dir);
  t.equal(store.db.pragma('user_version', { simple: true }), MIGRATIONS.at(-1)!.version);
  t.equal(store.db.pragma('journal_mode', { simple: true }), 'wal');
  store.close();
  const raw = new BetterSqlite3(path.join(dir, DATABASE_FILE));
  raw.pragma('user_version = 999');
  raw.close();
  t.throws(() => Store.open(dir), { code: 'STORE_SCHEMA_TOO_NEW' });
});

t.test('a version 5 database (documents WITHOUT ROWID) migrates to the rowid table with every row intact', async (t) => {
  const dir = tempDir(t);
  const raw = new BetterSqlite3(path.join(dir, DATABASE_FILE));
  for (const migration of MIGRATIONS.filter((m) => m.version <= 5)) raw.exec(migration.sql);
  raw.pragma('user_version = 5');
  raw.prepare("INSERT INTO collections (id, name, encoder, created_at, next_doc_number) VALUES (1, 'old', '{}', 'then', 3)").run();
  const insert = raw.prepare('INSERT INTO documents (collection_id, doc_number, external_id, fields, vector, field_lengths, updated_at, dense) VALUES (1, ?, ?, ?, ?, ?, ?, ?)');
  insert.run(0, 'a', '{"title":"A"}', encodeVector(Uint32Array.of(1, 4), Float32Array.of(0.5, 2)), Buffer.alloc(4), 'then', null);
  insert.run(2, 'c', '{}', encodeVector(Uint32Array.of(3), Float32Array.of(1)), Buffer.alloc(4), 'then', Buffer.from(Float32Array.of(1, 2).buffer));
  raw.close();
  const warnings: string[] = [];
  const onWarning = (warning: Error & { code?: string }) => warning.code === 'SPARROW_MIGRATION' && warnings.push(warning.message);
  process.on('warning', onWarning);
  const store = Store.open(dir);
  t.teardown(() => store.close());
  await new Promise((resolve) => setImmediate(resolve));
  process.off('warning', onWarning);
  t.match(warnings.join('\n'), /schema version 6 .*rewriting 2 rows of documents/, 'the rewrite is announced');
  t.equal(store.db.pragma('freelist_count', { simple: true }), 0, 'and the freed pages are given back (VACUUM)');
  t.equal(store.db.pragma('user_version', { simple: true }), MIGRATIONS.at(-1)!.version);
  const table = store.db.prepare("SELECT sql FROM sqlite_master WHERE name = 'documents'").pluck().get() as string;
  t.notMatch(table, /WITHOUT ROWID/, 'documents is a rowid table now');
  const a = store.getDocument(1, 'a')!;
  t.same([a.docNumber, [...a.indices], [...a.values], a.fields], [0, [1, 4], [0.5, 2], { title: 'A' }], 'a row reads back as before');
  const live: [number, string][] = [];
  store.forEachLiveDocument(1, (docNumber, externalId) => live.push([docNumber, externalId]));
  t.same(live, [[0, 'a'], [2, 'c']], 'live documents in doc-number order');
  t.same([...store.iterateDense(1)].map((row) => [row.docNumber, [...row.vector]]), [[2, [1, 2]]], 'dense vectors survive');
  const plan = store.db.prepare("EXPLAIN QUERY PLAN SELECT doc_number, external_id FROM documents INDEXED BY documents_by_number WHERE collection_id = 1 ORDER BY doc_number").all() as { detail: string }[];
  t.match(plan.map((row) => row.detail).join(' '), /COVERING INDEX documents_by_number/, 'listing live documents reads the index alone');
});

t.test('collections: create, refuse duplicates and bad names, list, delete', async (t) => {
  const store = Store.open(tempDir(t));
  t.teardown(() => store.close());
  const c = store.createCollection('papers', { type: 'bm25' });
  t.equal(c.name, 'papers');
  t.throws(() => store.createCollection('papers', {}), { code: 'COLLECTION_EXISTS' });
  t.throws(() => store.createCollection('../etc', {}), { code: 'INVALID_COLLECTION_NAME' });
  t.throws(() => store.createCollection('', {}), { code: 'INVALID_COLLECTION_NAME' });
  t.same(store.listCollections().map((x) => x.name), ['papers']);
  t.ok(store.deleteCollection('papers'));
  t.notOk(store.deleteCollection('papers'));
  t.same(store.listCollections(), []);
});

t.test('upsert replaces by external id and keeps statistics exact', async (t) => {
  const dir = tempDir(t);
  let store = Store.open(dir);
  const c = store.createCollection('c', {});
  const terms = [
    { termId: 0, field: 0, text: 'alpha' },
    { termId: 1, field: 0, text: 'beta' },
  ];
  const first = store.writeBatch(c.id, terms, [
    { externalId: 'a', storedJson: JSON.stringify({ text: 'alpha beta' }), ...vec([0, 1], [1, 1]), fieldLengths: Uint32Array.of(2) },
    { externalId: 'b', storedJson: JSON.stringify({ text: 'alpha' }), ...vec([0], [1]), fieldLengths: Uint32Array.of(1) },
  ]);
  t.equal(first.inserted, 2);
  t.equal(first.updated, 0);
  const second = store.writeBatch(c.id, [], [{ externalId: 'a', storedJson: JSON.stringify({ text: 'beta beta beta' }), ...vec([1], [3]), fieldLengths: Uint32Array.of(3) }]);
  t.equal(second.updated, 1);
  t.equal(second.removed[0]!.externalId, 'a');
  t.equal(store.countDocuments(c.id), 2);
  t.same(store.fieldStatistics(c.id), [{ field: 0, docCount: 2, sumTotalTermFreq: 4 }]);
  const a = store.getDocument(c.id, 'a')!;
  t.same(a.fields, { text: 'beta beta beta' });
  t.ok(a.docNumber >= 2, 'a replaced version gets a new doc number');
  store.close();

  // Everything acknowledged survives a reopen.
  store = Store.open(dir);
  t.equal(store.countDocuments(c.id), 2);
  t.same(store.loadTerms(c.id).map((x) => x.text), ['alpha', 'beta']);
  const removed = store.deleteDocuments(c.id, ['a', 'missing']);
  t.equal(removed.length, 1);
  t.same(store.fieldStatistics(c.id), [{ field: 0, docCount: 1, sumTotalTermFreq: 1 }]);
  t.same([...store.iterateVectors(c.id)].map((d) => d.externalId), ['b']);
  store.close();
});

t.test('a failing batch leaves nothing behind', async (t) => {
  const store = Store.open(tempDir(t));
  t.teardown(() => store.close());
  const c = store.createCollection('c', {});
  store.writeBatch(c.id, [{ termId: 0, field: 0, text: 'x' }], [{ externalId: 'ok', storedJson: JSON.stringify({}), ...vec([0], [1]), fieldLengths: Uint32Array.of(1) }]);
  // Term id 0 already exists: the insert of the dictionary entry violates the primary key.
  t.throws(() =>
    store.writeBatch(c.id, [{ termId: 1, field: 0, text: 'y' }, { termId: 0, field: 0, text: 'dup' }], [
      { externalId: 'lost', storedJson: JSON.stringify({}), ...vec([1], [1]), fieldLengths: Uint32Array.of(1) },
    ]),
  );
  t.equal(store.countDocuments(c.id), 1);
  t.same(store.loadTerms(c.id).map((x) => x.text), ['x']);
  t.same(store.fieldStatistics(c.id), [{ field: 0, docCount: 1, sumTotalTermFreq: 1 }]);
});
