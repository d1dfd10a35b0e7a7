import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import t from 'tap';
import { MIGRATIONS } from '../src/store/migrations.js';
import { DATABASE_FILE, Store } from '../src/store/store.js';
import { encodeVector } from '../src/store/vector-codec.js';
import { SeededRandom } from '../src/common/random.js';
import { repoRoot } from './support/paths.js';
import { tempDir } from './support/tmp.js';

const DOCUMENTS = 20_000;
const storeModule = pathToFileURL(path.join(repoRoot, 'dist', 'src', 'store', 'store.js')).href;

/** A schema version 5 database (documents WITHOUT ROWID) as an older sparrow left it. */
function writeVersion5(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const db = new BetterSqlite3(path.join(dir, DATABASE_FILE));
  db.pragma('journal_mode = WAL');
  for (const migration of MIGRATIONS.filter((m) => m.version <= 5)) db.exec(migration.sql);
  db.pragma('user_version = 5');
  db.prepare(`INSERT INTO collections (id, name, encoder, created_at, next_doc_number) VALUES (1, 'old', '{"type":"precomputed"}', 'then', ${DOCUMENTS})`).run();
  const insert = db.prepare('INSERT INTO documents (collection_id, doc_number, external_id, fields, vector, field_lengths, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?)');
  const random = new SeededRandom(4);
  db.transaction(() => {
    for (let d = 0; d < DOCUMENTS; d++) {
      const terms = Uint32Array.from({ length: 150 }, (_, i) => i * 200 + random.nextInt(200));
      insert.run(d, `doc-${d}`, JSON.stringify({ n: d }), encodeVector(terms, Float32Array.from(terms, () => random.nextFloat())), Buffer.alloc(4), 'then');
    }
  })();
  db.close();
  return dir;
}

/** What must survive: every row's id, fields and vector bytes. */
function fingerprint(db: BetterSqlite3.Database): string {
  const hash = createHash('sha256');
  for (const row of db.prepare('SELECT doc_number, external_id, fields, vector FROM documents WHERE collection_id = 1 ORDER BY doc_number').iterate() as Iterable<{ doc_number: number; external_id: string; fields: string; vector: Buffer }>) {
    hash.update(`${row.doc_number}|${row.external_id}|${row.fields}|`).update(row.vector);
  }
  return hash.digest('hex');
}

/** Opens the store in a child process (which migrates it); resolves with the time it took, or on kill. */
function openInChild(dir: string, killAfterMs?: number): Promise<{ finished: boolean; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', `const { Store } = await import(${JSON.stringify(storeModule)}); Store.open(${JSON.stringify(dir)}).close(); process.stdout.write('opened');`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const timer = killAfterMs !== undefined ? setTimeout(() => child.kill('SIGKILL'), killAfterMs) : undefined;
  return new Promise((resolve) => {
    child.once('exit', () => {
      clearTimeout(timer);
      resolve({ finished: out.includes('opened'), ms: Date.now() - started });
    });
  });
}

t.test('a kill during the documents-table migration (or its VACUUM) loses nothing; the next open finishes it', async (t) => {
  const root = tempDir(t);
  const original = writeVersion5(path.join(root, 'original'));
  const raw = new BetterSqlite3(path.join(original, DATABASE_FILE), { readonly: true });
  const expected = fingerprint(raw);
  raw.close();
  const copy = (name: string): string => {
    const dir = path.join(root, name);
    fs.cpSync(original, dir, { recursive: true });
    return dir;
  };
  const timed = await openInChild(copy('timing'));
  t.ok(timed.finished, `an uninterrupted open migrates in ${timed.ms} ms (process start included)`);
  let killedBeforeTheEnd = 0;
  for (const fraction of [0.35, 0.55, 0.7, 0.85, 0.95]) {
    const dir = copy(`kill-${fraction}`);
    const run = await openInChild(dir, Math.round(timed.ms * fraction));
    if (!run.finished) killedBeforeTheEnd++;
    const check = new BetterSqlite3(path.join(dir, DATABASE_FILE));
    t.equal(check.pragma('integrity_check', { simple: true }), 'ok', `killed at ${Math.round(fraction * 100)}%: the file is intact`);
    const version = check.pragma('user_version', { simple: true }) as number;
    t.ok(Number.isInteger(version) && version >= 5 && version <= MIGRATIONS.at(-1)!.version, `killed at ${Math.round(fraction * 100)}%: schema version ${version}, a whole number of migrations applied, none half`);
    t.equal(fingerprint(check), expected, `killed at ${Math.round(fraction * 100)}%: every row as it was`);
    check.close();
    const store = Store.open(dir);
    t.equal(store.db.pragma('user_version', { simple: true }), MIGRATIONS.at(-1)!.version, 'the next open finishes the migration');
    store.close();
    const after = new BetterSqlite3(path.join(dir, DATABASE_FILE), { readonly: true });
    t.equal(fingerprint(after), expected, 'and every row is still there');
    after.close();
  }
  t.ok(killedBeforeTheEnd >= 1, `${killedBeforeTheEnd} of 5 kills landed before the child had finished`);
});
