import type { FastifyRequest } from 'fastify';
import type { Engine } from '../../engine/engine.js';
import type { EncoderPool } from '../../jobs/encoder-pool.js';
import type { JobManager } from '../../jobs/manager.js';
import type { ApiKeys } from '../auth.js';
import type { Metrics } from '../metrics.js';
import type { ServerLimits } from '../schemas.js';

/** What the route groups share: the engine, the job manager, the limits and the server's state. */
export interface RouteContext {
  readonly engine: Engine;
  readonly jobs: JobManager;
  readonly pool: EncoderPool;
  readonly limits: ServerLimits;
  readonly metrics: Metrics;
  readonly keys: ApiKeys;
  /** The role of the key each request presented (absent: no keys configured). */
  readonly roles: WeakMap<FastifyRequest, 'read' | 'write' | 'admin'>;
  isClosing(): boolean;
  isReady(): boolean;
}
