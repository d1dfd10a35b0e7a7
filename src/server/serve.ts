import { availableParallelism } from 'node:os';
import { Engine } from '../engine/engine.js';
import { SparrowError } from '../common/errors.js';
import { buildApp } from './app.js';
import { ApiKeys, isLoopbackHost } from './auth.js';
import type { RateLimitSettings } from './rate-limit.js';
import type { ServerLimits } from './schemas.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  /** Default: keys from SPARROW_{ADMIN,WRITE,READ}_KEYS (and SPARROW_KEYS_FILE). */
  readonly keys?: ApiKeys;
  /** Serve a non-loopback address with no keys configured (everyone may do everything). */
  readonly allowUnauthenticated?: boolean;
  readonly rateLimit?: RateLimitSettings;
  readonly importDir?: string;
  readonly workers?: number;
  /** Threads searching segments (default DEFAULT_SEARCH_THREADS; 0: the main thread searches). */
  readonly searchThreads?: number;
  readonly limits?: Partial<ServerLimits>;
  /** Longest a graceful shutdown may take before the process exits anyway. */
  readonly shutdownTimeoutMs?: number;
}

/** One search thread per core, at most 4 (collections under 50,000 documents are searched on the main thread). */
export const DEFAULT_SEARCH_THREADS = Math.min(4, availableParallelism());

/** Requests per second per client when nothing else is configured: generous, but it bounds a runaway client. */
export const DEFAULT_RATE_LIMIT: RateLimitSettings = { perSecond: 1000, burst: 2000 };

/**
 * Opens the data directory, listens, resumes unfinished jobs, warms the indexes, then reports
 * ready. On SIGTERM or SIGINT: refuse new requests, finish in-flight ones, let the running job
 * commit its batch and checkpoint, close the store, exit 0.
 */
export async function startServer(options: ServeOptions): Promise<void> {
  const keys = options.keys ?? ApiKeys.fromConfiguration(process.env, process.env['SPARROW_KEYS_FILE']);
  if (!isLoopbackHost(options.host) && keys.size === 0 && !options.allowUnauthenticated) {
    throw new SparrowError(
      'UNSAFE_BIND',
      `refusing to serve ${options.host} without API keys: set SPARROW_ADMIN_KEYS / SPARROW_WRITE_KEYS / SPARROW_READ_KEYS (or --keys-file), ` +
        'bind to 127.0.0.1, or pass --allow-unauthenticated to accept that anyone who can reach the port may change everything',
    );
  }
  const engine = Engine.open(options.dataDir, { searchThreads: options.searchThreads ?? DEFAULT_SEARCH_THREADS });
  let ready = false;
  const app = buildApp({
    engine,
    logger: { level: process.env['LOG_LEVEL'] ?? 'info' },
    keys,
    rateLimit: options.rateLimit ?? DEFAULT_RATE_LIMIT,
    ...(options.importDir ? { importDir: options.importDir } : {}),
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    isReady: () => ready,
  });
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down: finishing in-flight requests and checkpointing jobs');
    const deadline = setTimeout(() => {
      app.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, options.shutdownTimeoutMs ?? 30_000);
    deadline.unref();
    app
      .close()
      .then(() => engine.close())
      .then(() => {
        app.log.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: options.port, host: options.host });
  app.log.info(
    {
      dataDir: options.dataDir,
      collections: engine.listCollections().map((c) => c.name),
      auth: keys.size > 0 ? `${keys.size} API keys` : 'off (no keys configured)',
      importDir: options.importDir ?? null,
    },
    'sparrow is serving',
  );
  // Loading each collection's index now keeps the first searches fast; /ready says when it is done.
  setImmediate(async () => {
    for (const record of engine.listCollections()) {
      if (closing) return;
      try {
        await engine.collection(record.name).warmAsync();
      } catch (error) {
        app.log.error({ err: error, collection: record.name }, 'could not load the collection');
      }
    }
    ready = true;
    app.log.info('ready');
  });
}
