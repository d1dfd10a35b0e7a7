import path from 'node:path';
import { UsageError, parse, dataDirOf, nonNegativeInt, help } from '../shared.js';

export async function commandServe(args: string[]): Promise<number> {
  const { values } = parse(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    'keys-file': { type: 'string' },
    'allow-unauthenticated': { type: 'boolean', default: false },
    'import-dir': { type: 'string' },
    'rate-limit': { type: 'string' },
    workers: { type: 'string' },
    'search-threads': { type: 'string' },
  });
  if (values.help) return help();
  const env = process.env;
  const port = values.port !== undefined ? Number(values.port) : Number(env['PORT'] ?? 7700);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`port must be an integer from 0 to 65535`);
  const rateLimit = nonNegativeInt(values['rate-limit'] ?? env['SPARROW_RATE_LIMIT'], '--rate-limit');
  const workers = nonNegativeInt(values.workers ?? env['SPARROW_WORKERS'], '--workers');
  const searchThreads = nonNegativeInt(values['search-threads'] ?? env['SPARROW_SEARCH_THREADS'], '--search-threads');
  if (searchThreads !== undefined && searchThreads > 64) throw new UsageError('--search-threads must be at most 64');
  const importDir = (values['import-dir'] as string | undefined) ?? env['SPARROW_IMPORT_DIR'];
  const keysFile = (values['keys-file'] as string | undefined) ?? env['SPARROW_KEYS_FILE'];
  const allowUnauthenticated = (values['allow-unauthenticated'] as boolean) || ['1', 'true', 'yes'].includes((env['SPARROW_ALLOW_UNAUTHENTICATED'] ?? '').toLowerCase());
  // Loaded here, not at the top: Fastify and its plugins would slow every other command's start.
  const [{ startServer }, { ApiKeys }] = await Promise.all([import('../../server/serve.js'), import('../../server/auth.js')]);
  await startServer({
    dataDir: dataDirOf(values),
    port,
    host: (values.host as string | undefined) ?? env['HOST'] ?? '127.0.0.1',
    keys: ApiKeys.fromConfiguration(env, keysFile),
    allowUnauthenticated,
    ...(rateLimit !== undefined ? { rateLimit: { perSecond: rateLimit } } : {}),
    ...(importDir ? { importDir: path.resolve(importDir) } : {}),
    ...(workers !== undefined ? { workers } : {}),
    ...(searchThreads !== undefined ? { searchThreads } : {}),
  });
  return -1;
}
