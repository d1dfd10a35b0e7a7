import { Engine } from '../engine/engine.js';
import { buildApp } from './app.js';

export interface ServeOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
}

/** Opens the data directory, listens, and closes cleanly on SIGTERM/SIGINT. */
export async function startServer(options: ServeOptions): Promise<void> {
  const engine = Engine.open(options.dataDir);
  const app = buildApp({ engine, logger: { level: process.env['LOG_LEVEL'] ?? 'info' } });
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    app.log.info({ signal }, 'shutting down');
    app
      .close()
      .then(() => engine.close())
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  await app.listen({ port: options.port, host: options.host });
  app.log.info({ dataDir: options.dataDir, collections: engine.listCollections().map((c) => c.name) }, 'sparrow is serving');
}
