import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import type { Collection } from '../engine/collection.js';
import type { Engine } from '../engine/engine.js';
import { SparrowError, errorCode } from '../common/errors.js';
import { byteLimit } from '../common/streams.js';
import { TERMINAL_JOB_STATUSES, type JobRecord, type JobStatus, type JobsStore } from '../store/jobs-store.js';

export type { JobRecord, JobStatus };
import { isBeirFolder, openBeirFolder } from './beir.js';
import type { EncoderPool } from './encoder-pool.js';
import { DEFAULT_BATCH_SIZE, runIngestion, type CommittedBatch, type InputFormat } from './runner.js';

/** What a job reads: a file or folder under the import folder, or a body uploaded with the request. */
export type SourceFormat = 'auto' | 'jsonl' | 'beir' | 'vectors';

export interface PathJobRequest {
  readonly collection: string;
  readonly path: string;
  readonly format?: SourceFormat;
  readonly batchSize?: number;
}

export interface UploadJobRequest {
  readonly collection: string;
  readonly body: Readable;
  readonly gzip: boolean;
  readonly format?: 'jsonl' | 'vectors';
  readonly batchSize?: number;
  /** Largest upload accepted, in bytes as sent. */
  readonly maxBytes: number;
}

/** A recall tuning run as a job (POST /collections/NAME/_tune): the collection and the tuner's options. */
export type TuneJobRequest = { readonly collection: string } & Readonly<Record<string, unknown>>;

/**
 * Recall tuning as the job manager runs it, supplied by its caller (eval/recall-tune.ts's
 * recallTuner): jobs know how to queue, checkpoint and resume work, not how to measure recall.
 */
export interface RecallTuner {
  /** Refuses a request that cannot run (a bad target, an empty collection) before it is queued. */
  check(collection: Collection, options: Readonly<Record<string, unknown>>): void;
  /** Settings the run will measure (the job's progress total). */
  steps(collection: Collection, options: Readonly<Record<string, unknown>>): number;
  /** Runs it; throws a TUNE_STOPPED-coded error when shouldStop says so. Returns the job's result. */
  run(
    collection: Collection,
    options: Readonly<Record<string, unknown>>,
    control: { readonly jobId: string; readonly reportDir: string; onProgress(done: number): void; shouldStop(): boolean },
  ): Promise<Record<string, unknown>>;
}

/** The stored `source` of a job: everything needed to read it again after a restart. */
type StoredSource = FileSource | { readonly type: 'tune' };

/** An indexing job's input. (A tuning job has none: its request is in the job's options.) */
interface FileSource {
  readonly type: 'path' | 'upload';
  /** The file actually read (a BEIR folder's corpus, a spooled upload). */
  readonly file: string;
  readonly format: InputFormat;
  /** What the client asked for, for display. */
  readonly requested?: string;
}

export interface JobManagerOptions {
  readonly engine: Engine;
  readonly pool: EncoderPool;
  /** Server-side sources must lie under this folder; undefined disables them. */
  readonly importDir?: string;
  /** Where uploaded bodies are kept until their job finishes. */
  readonly uploadDir: string;
  readonly defaultBatchSize?: number;
  readonly onBatchCommitted?: (job: JobRecord, batch: CommittedBatch) => void;
  readonly onRunStarted?: (job: JobRecord) => void;
  readonly onFinished?: (job: JobRecord) => void;
  readonly onError?: (job: JobRecord, error: unknown) => void;
  /** Recall tuning jobs; without it they are refused. */
  readonly tuner?: RecallTuner;
}

interface RunningJob {
  readonly id: string;
  readonly collection: string;
  cancel: boolean;
  shutdown: boolean;
  readonly done: Promise<void>;
}

/**
 * Runs bulk indexing jobs one at a time (SQLite has one writer) in the order they were created.
 * Each batch commits with the job's checkpoint; a job interrupted by a crash or a shutdown is
 * picked up again by `resume` when the next process starts, from its last checkpoint.
 */
export class JobManager {
  readonly store: JobsStore;
  private readonly options: JobManagerOptions;
  private running: RunningJob | undefined;
  private stopping = false;

  constructor(options: JobManagerOptions) {
    this.options = options;
    this.store = options.engine.store.jobs;
  }

  private tuner(): RecallTuner {
    if (!this.options.tuner) throw new SparrowError('TUNE_UNAVAILABLE', 'this server runs no recall tuning jobs');
    return this.options.tuner;
  }

  get importDir(): string | undefined {
    return this.options.importDir;
  }

  /** Queues a job over a file or folder under the import folder. */
  createFromPath(request: PathJobRequest): JobRecord {
    const collection = this.options.engine.collection(request.collection);
    const source = this.resolveSource(request.path, request.format ?? 'auto', collection.encoder.config as { type?: string });
    checkFormatFits(source.format, collection.encoder.config as { type?: string }, collection.name);
    const record = this.store.insert({
      id: newJobId(),
      collection: collection.name,
      source: { ...source },
      options: { batchSize: request.batchSize ?? this.options.defaultBatchSize ?? DEFAULT_BATCH_SIZE },
      totalBytes: fs.statSync(source.file).size,
    });
    this.pump();
    return record;
  }

  /**
   * Spools an uploaded body to disk first (the job must survive a restart, and the client is
   * answered only once the whole body is safely stored), then queues a job over that file.
   */
  async createFromUpload(request: UploadJobRequest): Promise<JobRecord> {
    const collection = this.options.engine.collection(request.collection);
    const format: InputFormat = request.format ?? ((collection.encoder.config as { type?: string }).type === 'precomputed' ? 'vectors' : 'jsonl');
    checkFormatFits(format, collection.encoder.config as { type?: string }, collection.name);
    const id = newJobId();
    fs.mkdirSync(this.options.uploadDir, { recursive: true });
    const file = path.join(this.options.uploadDir, `${id}.jsonl${request.gzip ? '.gz' : ''}`);
    try {
      await pipeline(request.body, byteLimit(request.maxBytes), fs.createWriteStream(file, { flags: 'wx' }));
      const fd = fs.openSync(file, 'r');
      try {
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
    } catch (error) {
      fs.rmSync(file, { force: true });
      throw error;
    }
    // The collection may have gone while the body streamed in.
    const stillThere = this.options.engine.collection(request.collection);
    const source: StoredSource = { type: 'upload', file, format };
    const record = this.store.insert({
      id,
      collection: stillThere.name,
      source: { ...source },
      options: { batchSize: request.batchSize ?? this.options.defaultBatchSize ?? DEFAULT_BATCH_SIZE },
      totalBytes: fs.statSync(file).size,
    });
    this.pump();
    return record;
  }

  /**
   * Queues a recall tuning of a collection's approximate index. The request is checked now (a
   * bad target, an empty collection, one without segments are refused at once); the tuning runs
   * as a job like any other, one at a time, and its result (the chosen setting, the Pareto table,
   * report.md and report.png under the data folder) is kept with the job.
   */
  createTune(request: TuneJobRequest): JobRecord {
    const collection = this.options.engine.collection(request.collection);
    const { collection: _name, ...tune } = request;
    const tuner = this.tuner();
    tuner.check(collection, tune);
    const source: StoredSource = { type: 'tune' };
    const record = this.store.insert({
      id: newJobId(),
      collection: collection.name,
      source: { ...source },
      options: { tune },
      // Progress counts settings measured: "bytes" are steps here.
      totalBytes: tuner.steps(collection, tune),
    });
    this.pump();
    return record;
  }

  /** Where a tuning job's report files are written. */
  reportDir(id: string): string {
    return path.join(this.options.engine.dataDir, 'tune', id);
  }

  get(id: string): JobRecord {
    const record = this.store.get(id);
    if (!record) throw new SparrowError('JOB_NOT_FOUND', `no job has id ${JSON.stringify(id)}`, { job: id });
    return record;
  }

  list(limit = 100): JobRecord[] {
    return this.store.list(limit);
  }

  /**
   * Cancels a queued job at once, or a running one after the batch it is committing; what was
   * committed stays. Resolves with the job in its final state.
   */
  async cancel(id: string): Promise<JobRecord> {
    const record = this.get(id);
    if (TERMINAL_JOB_STATUSES.includes(record.status)) {
      throw new SparrowError('JOB_FINISHED', `job ${id} is already ${record.status}`, { job: id, status: record.status });
    }
    if (this.running?.id === id) {
      this.running.cancel = true;
      await this.running.done;
    } else {
      this.finish(record, 'cancelled');
    }
    return this.get(id);
  }

  /** Cancels every unfinished job of a collection (it is being deleted). */
  async cancelForCollection(name: string): Promise<void> {
    for (const job of this.store.unfinished()) if (job.collection === name) await this.cancel(job.id);
  }

  /** Starts the jobs a previous process left queued or running, from their checkpoints. */
  resume(): void {
    this.pump();
  }

  /** Stops taking jobs; a running one stops after its current batch and stays queued for the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    const running = this.running;
    if (running) {
      running.shutdown = true;
      await running.done;
    }
  }

  counts(): Record<JobStatus, number> {
    return this.store.countByStatus();
  }

  private pump(): void {
    if (this.running || this.stopping) return;
    const next = this.store.unfinished()[0];
    if (!next) return;
    const running: RunningJob = {
      id: next.id,
      collection: next.collection,
      cancel: false,
      shutdown: false,
      done: Promise.resolve().then(() => this.run(next.id, running)),
    };
    this.running = running;
    void running.done.finally(() => {
      this.running = undefined;
      // Let the event loop breathe between jobs, then take the next one.
      setImmediate(() => this.pump());
    });
  }

  private async run(id: string, control: RunningJob): Promise<void> {
    let record = this.get(id);
    try {
      const collection = this.options.engine.collection(record.collection);
      const source = record.source as unknown as StoredSource;
      this.store.markRunning(id);
      record = this.get(id);
      this.options.onRunStarted?.(record);
      if (source.type === 'tune') {
        await this.runTune(record, collection, control);
        return;
      }
      const runStartedMs = Date.now();
      const elapsedBefore = record.elapsedMs;
      const result = await runIngestion(collection, source.file, {
        format: source.format,
        batchSize: (record.options['batchSize'] as number | undefined) ?? DEFAULT_BATCH_SIZE,
        resumeFrom: { line: record.line, byteOffset: record.byteOffset },
        pool: this.options.pool,
        trackDuplicateIds: false,
        shouldStop: () => control.cancel || control.shutdown,
        checkpoint: {
          transaction: (work) => this.options.engine.store.transaction(work),
          save: (batch) =>
            this.store.checkpoint(id, {
              line: batch.line,
              byteOffset: batch.byteOffset,
              bytesRead: batch.bytesRead,
              processed: batch.processed,
              indexed: batch.indexed,
              updated: batch.updated,
              failed: batch.failed,
              newErrors: batch.errors.map((e) => ({ ...(e.line !== undefined ? { line: e.line } : {}), ...(e.id !== undefined ? { id: e.id } : {}), code: e.code, message: e.message })),
              elapsedMs: elapsedBefore + (Date.now() - runStartedMs),
            }),
        },
        onBatchCommitted: (batch) => this.options.onBatchCommitted?.(record, batch),
      });
      if (!result.interrupted) this.finish(this.get(id), 'completed');
      else if (control.cancel) this.finish(this.get(id), 'cancelled');
      // Stopped by a shutdown: queued again, so the next process resumes it from the checkpoint.
      else this.store.setStatus(id, 'queued');
    } catch (error) {
      const code = errorCode(error) ?? 'INTERNAL_ERROR';
      this.options.onError?.(record, error);
      this.finish(this.get(id), 'failed', { code, message: (error as Error).message });
    }
  }

  private async runTune(record: JobRecord, collection: ReturnType<Engine['collection']>, control: RunningJob): Promise<void> {
    const id = record.id;
    const startedMs = Date.now();
    const options = record.options['tune'] as Record<string, unknown>;
    let result: Record<string, unknown>;
    try {
      result = await this.tuner().run(collection, options, {
        jobId: id,
        reportDir: this.reportDir(id),
        onProgress: (done) =>
          this.store.checkpoint(id, {
            line: done,
            byteOffset: 0,
            bytesRead: done,
            processed: 1,
            indexed: 0,
            updated: 0,
            failed: 0,
            newErrors: [],
            elapsedMs: Date.now() - startedMs,
          }),
        shouldStop: () => control.cancel || control.shutdown,
      });
    } catch (error) {
      if (errorCode(error) !== 'TUNE_STOPPED') throw error;
      // A shutdown queues it again (the next process tunes from the start); a cancel ends it.
      if (control.cancel) this.finish(this.get(id), 'cancelled');
      else this.store.setStatus(id, 'queued');
      return;
    }
    this.store.setResult(id, result);
    this.finish(this.get(id), 'completed');
  }

  private finish(record: JobRecord, status: JobStatus, error?: { code: string; message: string }): void {
    this.store.setStatus(record.id, status, error);
    const source = record.source as unknown as StoredSource;
    if (source.type === 'upload') fs.rmSync(source.file, { force: true });
    this.options.onFinished?.(this.get(record.id));
  }

  /** Resolves a requested path inside the import folder to the file a job will read. */
  private resolveSource(requested: string, format: SourceFormat, encoder: { type?: string }): FileSource {
    const root = this.options.importDir;
    if (!root) {
      throw new SparrowError('SOURCE_NOT_ALLOWED', 'server-side job sources are disabled: start the server with --import-dir (or SPARROW_IMPORT_DIR), or upload the body');
    }
    const realRoot = fs.realpathSync(root);
    const candidate = path.resolve(realRoot, requested);
    let real: string;
    try {
      real = fs.realpathSync(candidate);
    } catch (error) {
      if (!isInside(realRoot, candidate)) throw outsideImportDir(requested);
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES') throw new SparrowError('SOURCE_UNREADABLE', `permission denied: ${requested}`, { path: requested });
      throw new SparrowError('SOURCE_NOT_FOUND', `no such file or folder under the import folder: ${requested}`, { path: requested });
    }
    // Checked on the real path too, so a symbolic link cannot lead out of the import folder.
    if (!isInside(realRoot, candidate) || !isInside(realRoot, real)) throw outsideImportDir(requested);
    const stat = fs.statSync(real);
    let file: string;
    if (stat.isDirectory()) {
      if (format !== 'auto' && format !== 'beir') {
        throw new SparrowError('INVALID_SOURCE', `${requested} is a folder; format ${format} needs a file`, { path: requested });
      }
      if (!isBeirFolder(real)) throw new SparrowError('INVALID_SOURCE', `${requested} is not a BEIR folder (no corpus.jsonl or corpus.jsonl.gz)`, { path: requested });
      file = openBeirFolder(real).corpus;
    } else {
      if (format === 'beir') throw new SparrowError('INVALID_SOURCE', `${requested} is a file; format beir needs a BEIR folder`, { path: requested });
      file = real;
    }
    try {
      fs.accessSync(file, fs.constants.R_OK);
    } catch {
      throw new SparrowError('SOURCE_UNREADABLE', `permission denied: ${requested}`, { path: requested });
    }
    const inputFormat: InputFormat = format === 'vectors' || (format === 'auto' && encoder.type === 'precomputed') ? 'vectors' : 'jsonl';
    return { type: 'path', file, format: inputFormat, requested };
  }
}

function checkFormatFits(format: InputFormat, encoder: { type?: string }, collection: string): void {
  if (format === 'vectors' && encoder.type !== 'precomputed') {
    throw new SparrowError(
      'ENCODER_MISMATCH',
      `precomputed vectors need a collection whose encoder is {"type": "precomputed"}; ${JSON.stringify(collection)} uses ${JSON.stringify(encoder.type)}`,
      { collection },
    );
  }
}

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

function outsideImportDir(requested: string): SparrowError {
  return new SparrowError('SOURCE_NOT_ALLOWED', `${requested} lies outside the import folder`, { path: requested });
}

function newJobId(): string {
  // Sortable by creation time, unguessable enough that ids do not leak other clients' jobs.
  return `job_${Date.now().toString(36)}_${crypto.randomBytes(6).toString('hex')}`;
}

