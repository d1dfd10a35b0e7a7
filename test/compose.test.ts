import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { repoRoot } from './support/paths.js';

// Debian's docker-compose validates the file without a Docker engine (apt-get install
// --no-install-recommends docker-compose); where it is missing, the file is still read as YAML and
// checked for what the server needs, and the skipped full validation says so.
function composeAvailable(): boolean {
  return spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
}
const available = composeAvailable();

t.test('docker-compose.yml, read as YAML: one port, the data volume, the health check, a required admin key', async (t) => {
  const compose = parse(fs.readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8')) as {
    services: Record<string, { ports: string[]; volumes: string[]; environment: Record<string, string>; healthcheck: { test: string[] }; stop_signal: string }>;
    volumes: Record<string, unknown>;
  };
  const service = compose.services['sparrow']!;
  t.ok(service, 'a sparrow service');
  t.match(service.ports, [/:7700$/], 'the container port 7700 published');
  t.ok(service.volumes.includes('sparrow-data:/data'), 'the data folder on the named volume');
  t.ok('sparrow-data' in compose.volumes, 'the volume is declared');
  t.match(service.environment['SPARROW_ADMIN_KEYS'], /^\$\{SPARROW_ADMIN_KEYS:\?/, 'the admin key is required (${VAR:?...})');
  t.match(service.healthcheck.test.join(' '), /\/ready/, 'the health check asks /ready');
  t.equal(service.stop_signal, 'SIGTERM');
});

t.test('docker-compose.yml is valid and wires port, volume, health check and keys', { skip: available ? false : 'docker-compose is not installed' }, async (t) => {
  const file = path.join(repoRoot, 'docker-compose.yml');
  const env = { ...process.env, SPARROW_ADMIN_KEYS: 'admin-key-0123456789abcdef', SPARROW_READ_KEYS: 'read-key-0123456789abcdefg' };
  const config = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env, cwd: repoRoot });
  t.equal(config.status, 0, config.stderr);
  const out = config.stdout;
  t.match(out, /target: 7700/);
  t.match(out, /sparrow-data:\/data/);
  t.match(out, /SPARROW_ADMIN_KEYS: admin-key-0123456789abcdef/);
  t.match(out, /SPARROW_READ_KEYS: read-key-0123456789abcdefg/);
  t.match(out, /healthcheck:[\s\S]*\/ready/);
  const missing = spawnSync('docker-compose', ['-f', file, 'config'], { encoding: 'utf8', env: { ...process.env, SPARROW_ADMIN_KEYS: '' }, cwd: repoRoot });
  t.not(missing.status, 0, 'the compose file refuses to run without an admin key');
  t.match(missing.stderr, /SPARROW_ADMIN_KEYS/);
});

t.test('the Dockerfile runs the server with data and import folders, a health check and a graceful stop', async (t) => {
  const dockerfile = fs.readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  t.match(dockerfile, /^HEALTHCHECK .*\n.*\/ready/m);
  t.match(dockerfile, /^VOLUME \["\/data"\]/m);
  t.match(dockerfile, /^STOPSIGNAL SIGTERM/m);
  t.match(dockerfile, /^USER node/m);
  t.match(dockerfile, /^CMD \["node", "dist\/src\/cli\/main\.js", "serve"\]/m);
});
