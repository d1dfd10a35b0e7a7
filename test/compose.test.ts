import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { repoRoot } from './support/paths.js';

// Debian's docker-compose validates the file without a Docker engine. In CI (CI=true, as root) a
// machine without it gets it from Debian first (--no-install-recommends); elsewhere a missing binary
// skips the check, and says so.
function composeAvailable(): boolean {
  return spawnSync('docker-compose', ['version'], { encoding: 'utf8' }).status === 0;
}
if (!composeAvailable() && process.env['CI'] === 'true' && process.getuid?.() === 0) {
  const apt = { encoding: 'utf8' as const, timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
  spawnSync('apt-get', ['update'], apt);
  spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'docker-compose'], apt);
}
const available = composeAvailable();

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
