/**
 * Token buckets per client (API key name, or address when keys are off): each request takes a
 * token; tokens refill at `perSecond` up to `burst`. A client that runs dry is told how long to wait.
 */
export interface RateLimitSettings {
  /** Sustained requests per second per client; 0 turns limiting off. */
  readonly perSecond: number;
  /** Requests a client may make at once after being idle (default 2 x perSecond). */
  readonly burst?: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class RateLimiter {
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly buckets = new Map<string, Bucket>();
  private lastSweepMs = 0;

  constructor(settings: RateLimitSettings) {
    this.perSecond = settings.perSecond;
    this.burst = Math.max(1, settings.burst ?? Math.ceil(settings.perSecond * 2));
  }

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** 0 when the request may go ahead, else the seconds to wait before the next token. */
  take(client: string, nowMs = performance.now()): number {
    if (!this.enabled) return 0;
    this.sweep(nowMs);
    let bucket = this.buckets.get(client);
    if (!bucket) {
      bucket = { tokens: this.burst, updatedMs: nowMs };
      this.buckets.set(client, bucket);
    }
    bucket.tokens = Math.min(this.burst, bucket.tokens + ((nowMs - bucket.updatedMs) / 1000) * this.perSecond);
    bucket.updatedMs = nowMs;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return (1 - bucket.tokens) / this.perSecond;
  }

  /** Forgets clients whose bucket has refilled, so memory follows active clients only. */
  private sweep(nowMs: number): void {
    const fullAfterMs = (this.burst / this.perSecond) * 1000;
    if (nowMs - this.lastSweepMs < Math.max(1000, fullAfterMs)) return;
    this.lastSweepMs = nowMs;
    for (const [client, bucket] of this.buckets) if (nowMs - bucket.updatedMs >= fullAfterMs) this.buckets.delete(client);
  }
}
