import type { Database, Statement } from 'better-sqlite3';

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export const TERMINAL_JOB_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled'];

export interface JobError {
  readonly line?: number;
  readonly id?: string;
  readonly code: string;
  readonly message: string;
}

export interface JobRecord {
  readonly id: string;
  readonly collection: string;
  readonly source: Record<string, unknown>;
  readonly options: Record<string, unknown>;
  readonly status: JobStatus;
  readonly line: number;
  readonly byteOffset: number;
  readonly bytesRead: number;
  readonly totalBytes: number;
  readonly processed: number;
  readonly indexed: number;
  readonly updated: number;
  readonly failed: number;
  readonly errors: JobError[];
  readonly error: { code: string; message: string } | undefined;
  /** What a job that computes something (a recall tuning) found; undefined for indexing jobs. */
  readonly result: Record<string, unknown> | undefined;
  readonly elapsedMs: number;
  readonly createdAt: string;
  readonly startedAt: string | undefined;
  readonly finishedAt: string | undefined;
  readonly updatedAt: string;
}

/** What one committed batch adds to a job: its end position and counter increments. */
export interface JobCheckpoint {
  readonly line: number;
  readonly byteOffset: number;
  readonly bytesRead: number;
  readonly processed: number;
  readonly indexed: number;
  readonly updated: number;
  readonly failed: number;
  readonly newErrors: readonly JobError[];
  readonly elapsedMs: number;
}

/** How many rejected lines a job keeps in full; every one is counted. */
export const MAX_STORED_JOB_ERRORS = 100;

/**
 * The jobs table (migration 3). `checkpoint` is meant to run inside the transaction that commits
 * the batch it describes, so the job's position never disagrees with the documents on disk.
 */
export class JobsStore {
  private readonly statements: ReturnType<typeof prepareStatements>;

  constructor(db: Database) {
    this.statements = prepareStatements(db);
  }

  insert(job: { id: string; collection: string; source: Record<string, unknown>; options: Record<string, unknown>; totalBytes: number }): JobRecord {
    const now = new Date().toISOString();
    this.statements.insert.run(job.id, job.collection, JSON.stringify(job.source), JSON.stringify(job.options), 'queued', job.totalBytes, now, now);
    return this.get(job.id)!;
  }

  get(id: string): JobRecord | undefined {
    const row = this.statements.byId.get(id) as JobRow | undefined;
    return row ? jobFromRow(row) : undefined;
  }

  /** Newest first. */
  list(limit = 100): JobRecord[] {
    return (this.statements.list.all(limit) as JobRow[]).map(jobFromRow);
  }

  /** Jobs a previous process left unfinished (queued, or running when it stopped), oldest first. */
  unfinished(): JobRecord[] {
    return (this.statements.unfinished.all() as JobRow[]).map(jobFromRow);
  }

  countByStatus(): Record<JobStatus, number> {
    const counts: Record<JobStatus, number> = { queued: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const row of this.statements.countByStatus.all() as { status: JobStatus; n: number }[]) counts[row.status] = row.n;
    return counts;
  }

  markRunning(id: string): void {
    const now = new Date().toISOString();
    this.statements.markRunning.run(now, now, id);
  }

  /** Sets a status; a terminal one also records when the job finished and, for failures, why. */
  setStatus(id: string, status: JobStatus, error?: { code: string; message: string }): void {
    const now = new Date().toISOString();
    const finishedAt = TERMINAL_JOB_STATUSES.includes(status) ? now : null;
    this.statements.setStatus.run(status, error ? JSON.stringify(error) : null, finishedAt, now, id);
  }

  setResult(id: string, result: Record<string, unknown>): void {
    this.statements.setResult.run(JSON.stringify(result), new Date().toISOString(), id);
  }

  checkpoint(id: string, c: JobCheckpoint): void {
    let errors: string | null = null;
    if (c.newErrors.length > 0) {
      const row = this.statements.errorsOf.get(id) as { errors: string } | undefined;
      const kept = row ? (JSON.parse(row.errors) as JobError[]) : [];
      if (kept.length < MAX_STORED_JOB_ERRORS) errors = JSON.stringify([...kept, ...c.newErrors].slice(0, MAX_STORED_JOB_ERRORS));
    }
    this.statements.checkpoint.run(
      c.line,
      c.byteOffset,
      c.bytesRead,
      c.processed,
      c.indexed,
      c.updated,
      c.failed,
      errors,
      c.elapsedMs,
      new Date().toISOString(),
      id,
    );
  }
}

interface JobRow {
  id: string;
  collection: string;
  source: string;
  options: string;
  status: JobStatus;
  line: number;
  byte_offset: number;
  bytes_read: number;
  total_bytes: number;
  processed: number;
  indexed: number;
  updated: number;
  failed: number;
  errors: string;
  error: string | null;
  result: string | null;
  elapsed_ms: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

function jobFromRow(row: JobRow): JobRecord {
  return {
    id: row.id,
    collection: row.collection,
    source: JSON.parse(row.source) as Record<string, unknown>,
    options: JSON.parse(row.options) as Record<string, unknown>,
    status: row.status,
    line: row.line,
    byteOffset: row.byte_offset,
    bytesRead: row.bytes_read,
    totalBytes: row.total_bytes,
    processed: row.processed,
    indexed: row.indexed,
    updated: row.updated,
    failed: row.failed,
    errors: JSON.parse(row.errors) as JobError[],
    error: row.error ? (JSON.parse(row.error) as { code: string; message: string }) : undefined,
    result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : undefined,
    elapsedMs: row.elapsed_ms,
    createdAt: row.created_at,
    startedAt: row.started_at ?? undefined,
    finishedAt: row.finished_at ?? undefined,
    updatedAt: row.updated_at,
  };
}

function prepareStatements(db: Database) {
  const statement = (sql: string): Statement => db.prepare(sql);
  return {
    insert: statement(
      `INSERT INTO jobs (id, collection, source, options, status, total_bytes, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    byId: statement('SELECT * FROM jobs WHERE id = ?'),
    list: statement('SELECT * FROM jobs ORDER BY created_at DESC, id DESC LIMIT ?'),
    unfinished: statement(`SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY created_at, id`),
    countByStatus: statement('SELECT status, count(*) AS n FROM jobs GROUP BY status'),
    markRunning: statement(`UPDATE jobs SET status = 'running', started_at = coalesce(started_at, ?), updated_at = ? WHERE id = ?`),
    setStatus: statement('UPDATE jobs SET status = ?, error = ?, finished_at = ?, updated_at = ? WHERE id = ?'),
    errorsOf: statement('SELECT errors FROM jobs WHERE id = ?'),
    setResult: statement('UPDATE jobs SET result = ?, updated_at = ? WHERE id = ?'),
    checkpoint: statement(
      `UPDATE jobs SET line = ?, byte_offset = ?, bytes_read = ?, processed = processed + ?, indexed = indexed + ?,
         updated = updated + ?, failed = failed + ?, errors = coalesce(?, errors), elapsed_ms = ?, updated_at = ?
       WHERE id = ?`,
    ),
  };
}
