import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from './support/paths.js';

/**
 * The import direction ARCHITECTURE.md states, read from the sources: each folder under src/ may
 * import only the folders listed for it (every import, type-only ones included). Leaves know
 * nothing of SQLite or HTTP; only src/store touches the database.
 */
const ALLOWED: Record<string, readonly string[]> = {
  common: [],
  analysis: ['common'],
  scoring: ['common'],
  fusion: ['common'],
  highlight: ['common'],
  store: ['common'],
  encoders: ['common', 'analysis', 'scoring'],
  index: ['common', 'scoring', 'encoders'],
  engine: ['common', 'store', 'analysis', 'scoring', 'fusion', 'highlight', 'encoders', 'index'],
  jobs: ['common', 'engine', 'encoders', 'store'],
  eval: ['common', 'engine', 'jobs', 'encoders', 'fusion', 'index'],
  opensearch: ['common', 'engine', 'jobs', 'fusion', 'index'],
  server: ['common', 'engine', 'jobs', 'eval', 'opensearch'],
  cli: ['common', 'engine', 'jobs', 'eval', 'opensearch', 'encoders', 'server'],
  web: [],
};

const src = path.join(repoRoot, 'src');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'assembly' ? [] : sources(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Every relative module a file imports: static imports, re-exports and dynamic import(). */
function importsOf(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/gu)].map((m) => m[1]!);
  return specs.map((spec) => path.resolve(path.dirname(file), spec));
}

const folderOf = (file: string): string => path.relative(src, file).split(path.sep)[0]!;

t.test('every folder under src/ has its place in the import order and its section in ARCHITECTURE.md', async (t) => {
  const folders = fs.readdirSync(src, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  t.same(folders, Object.keys(ALLOWED).sort(), 'the table above names every folder');
  const architecture = fs.readFileSync(path.join(repoRoot, 'ARCHITECTURE.md'), 'utf8');
  for (const folder of folders) t.match(architecture, `## src/${folder}\n`, `ARCHITECTURE.md has a section for src/${folder}`);
});

t.test('imports point one way', async (t) => {
  const wrong: string[] = [];
  let checked = 0;
  for (const file of sources(src)) {
    const from = folderOf(file);
    for (const target of importsOf(file)) {
      if (!target.startsWith(src + path.sep)) {
        wrong.push(`${path.relative(repoRoot, file)} imports ${path.relative(repoRoot, target)}, outside src/`);
        continue;
      }
      const to = folderOf(target);
      checked++;
      if (to !== from && !ALLOWED[from]!.includes(to)) wrong.push(`${path.relative(repoRoot, file)} imports src/${to} (src/${from} may import ${ALLOWED[from]!.join(', ') || 'nothing'})`);
    }
  }
  t.same(wrong, [], `${checked} imports follow the table`);
  t.ok(checked > 300, 'the sources were read');
});

t.test('the table has no cycle', async (t) => {
  const state = new Map<string, 'visiting' | 'done'>();
  const cycles: string[] = [];
  const visit = (folder: string, trail: string[]): void => {
    if (state.get(folder) === 'done') return;
    if (state.get(folder) === 'visiting') {
      cycles.push([...trail, folder].join(' -> '));
      return;
    }
    state.set(folder, 'visiting');
    for (const next of ALLOWED[folder]!) visit(next, [...trail, folder]);
    state.set(folder, 'done');
  };
  for (const folder of Object.keys(ALLOWED)) visit(folder, []);
  t.same(cycles, []);
});

t.test('only src/store knows SQL', async (t) => {
  const leaks: string[] = [];
  for (const file of sources(src)) {
    if (folderOf(file) === 'store') continue;
    const text = fs.readFileSync(file, 'utf8');
    if (/from 'better-sqlite3'|\.prepare\(|\.pragma\(|\bstore\.db\b|json_extract/u.test(text)) leaks.push(path.relative(repoRoot, file));
  }
  t.same(leaks, [], 'no SQL, database handle or better-sqlite3 import outside src/store');
});
