import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from './support/paths.js';

t.test('npm in the project prints no config warning, and install scripts run only where they must', async (t) => {
  const npm = spawnSync('npm', ['pkg', 'get', 'name'], { cwd: repoRoot, encoding: 'utf8' });
  t.equal(npm.status, 0, npm.stderr);
  t.notMatch(npm.stderr, /Unknown (project|user) config/, 'no "Unknown project config" warning (npm start, npx sparrow)');
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { allowScripts: Record<string, boolean> };
  // Native modules build from source here; the model runtime must not download anything at install.
  t.same(pkg.allowScripts['better-sqlite3'], true);
  t.same(pkg.allowScripts['roaring'], true);
  t.same(pkg.allowScripts['onnxruntime-node'], false, 'onnxruntime-node\'s download script never runs');
  t.match(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'), /ENV ONNXRUNTIME_NODE_INSTALL=skip/, 'and the image skips it for npm versions without allowScripts');
});

t.test('engines, the Docker image and the dependency tree agree on Node 20', async (t) => {
  const { default: semver } = await import('semver');
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { engines: { node: string } };
  const lowest = semver.minVersion(pkg.engines.node)!;
  t.equal(lowest.major, 20, `engines start at Node 20 (${pkg.engines.node})`);
  t.match(fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8'), /^FROM node:20-/m, 'the image runs Node 20');
  const lock = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[]; optional?: boolean }> };
  const refusing = Object.entries(lock.packages)
    .filter(([name, entry]) => name !== '' && !entry.optional && typeof entry.engines === 'object' && !Array.isArray(entry.engines) && entry.engines.node !== undefined)
    .filter(([, entry]) => !semver.satisfies(lowest, (entry.engines as { node: string }).node))
    .map(([name, entry]) => `${name} needs node ${(entry.engines as { node: string }).node}`);
  t.same(refusing, [], `every locked package runs on Node ${lowest.version} (no EBADENGINE at install)`);
});
