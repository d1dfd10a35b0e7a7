import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { CodedError } from '../common/errors.js';

/**
 * Loader of the WebAssembly scoring core (sources in ./assembly, built by
 * scripts/build-wasm.mjs into sparrow-core.wasm next to this file's compiled output).
 *
 * Size limit: wasm32 linear memory ends at 4 GiB, and one ScoringCore instance holds one index
 * plus its scratch. An instance refuses (CORE_INDEX_TOO_LARGE, before copying anything) to take
 * more than CORE_MEMORY_LIMIT_BYTES (3.75 GiB), keeping the rest for per-query growth (result
 * heap of k entries, query buffers); growth the host cannot grant is CORE_OUT_OF_MEMORY. For a
 * SPLADE-like collection with ~160 nonzeros per document and the default build params an index
 * takes ~1.3 KB per document (measured at 1M documents: 1.25 GiB), so one instance holds about
 * 2.5-3 million documents; with forwardValues 'f32' about 2 million. Callers split larger
 * collections into segments, each with its own instance, and merge the per-segment top-k.
 * The host keeps its own copy of the index arrays too; drop it after constructing the searcher
 * if only the wasm scorer is used.
 */

export type ScoringCoreErrorCode =
  | 'CORE_WASM_MISSING'
  | 'CORE_OUT_OF_MEMORY'
  | 'CORE_INDEX_TOO_LARGE'
  | 'CORE_BAD_QUERY'
  | 'CORE_NOT_CONFIGURED'
  | 'CORE_TRAP'
  | 'CORE_UNKNOWN_STATUS';

export class ScoringCoreError extends CodedError<ScoringCoreErrorCode> {
  constructor(code: ScoringCoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, `${code}: ${message}`, undefined, options);
  }
}

/** Bytes one instance may hold before it refuses more (index + fixed scratch). */
export const CORE_MEMORY_LIMIT_BYTES = 3.75 * 2 ** 30;

/** What the compiled core exports (see src/scoring/assembly/core.ts). */
export interface CoreExports {
  readonly memory: WebAssembly.Memory;
  allocate(bytes: number): number;
  usedBytes(): number;
  configure(...args: number[]): number;
  reserveQuery(length: number): number;
  queryTermsAt(): number;
  queryValuesAt(): number;
  excludedAt(): number;
  bitsetWordCount(): number;
  resultDocsAt(): number;
  resultScoresAt(): number;
  lastListsVisited(): number;
  lastBlocksScored(): number;
  lastBlocksSkipped(): number;
  lastDocsScored(): number;
  search(queryLength: number, k: number, queryCut: number, heapFactor: number, excludedWords: number, knn: number): number;
  configureKnn(neighborsAt: number, stored: number): number;
  buildSafe(blockSize: number): number;
  safeArrayAt(which: number): number;
  safeSearch(queryLength: number, k: number, excludedWords: number): number;
}

const STATUS_CODES: Record<number, ScoringCoreErrorCode> = {
  [-1]: 'CORE_OUT_OF_MEMORY',
  [-2]: 'CORE_BAD_QUERY',
  [-3]: 'CORE_NOT_CONFIGURED',
};

let compiledModule: WebAssembly.Module | undefined;

/** The compiled module, shared by all instances (compiled synchronously once: it is small). */
export function coreModule(): WebAssembly.Module {
  if (compiledModule === undefined) {
    const path = fileURLToPath(new URL('./sparrow-core.wasm', import.meta.url));
    if (!existsSync(path)) {
      throw new ScoringCoreError('CORE_WASM_MISSING', `${path} is missing; run "node scripts/build-wasm.mjs" (part of npm run build)`);
    }
    compiledModule = new WebAssembly.Module(readFileSync(path));
  }
  return compiledModule;
}

/** Typed-array views over the instance's linear memory. */
export interface MemoryViews {
  readonly buffer: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly f32: Float32Array;
}

/**
 * One core instance with its own linear memory. Growing the memory replaces its ArrayBuffer, so
 * views() rebuilds the typed-array views whenever the buffer changed; never keep a view across a
 * call that may allocate (allocate, configure, reserveQuery, search).
 */
export class ScoringCore {
  readonly exports: CoreExports;
  private currentViews: MemoryViews;
  private readonly limitBytes: number;

  /** The linear memory: shared, so search threads can run their own instances over it (`memory` option). */
  readonly memory: WebAssembly.Memory;

  constructor(options: { limitBytes?: number; memory?: WebAssembly.Memory } = {}) {
    this.limitBytes = options.limitBytes ?? CORE_MEMORY_LIMIT_BYTES;
    this.memory = options.memory ?? new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
    const instance = new WebAssembly.Instance(coreModule(), {
      env: {
        memory: this.memory,
        abort: (): never => {
          throw new ScoringCoreError('CORE_TRAP', 'the scoring core aborted');
        },
      },
    });
    this.exports = instance.exports as unknown as CoreExports;
    this.currentViews = makeViews(this.exports.memory.buffer as ArrayBuffer);
  }

  views(): MemoryViews {
    const buffer = this.exports.memory.buffer as ArrayBuffer;
    if (buffer !== this.currentViews.buffer) this.currentViews = makeViews(buffer);
    return this.currentViews;
  }

  /** Bytes of linear memory in use. */
  get usedBytes(): number {
    return this.exports.usedBytes();
  }

  /** Fails with CORE_INDEX_TOO_LARGE if adding bytes would pass this instance's limit. */
  ensureFits(bytes: number, what: string): void {
    const used = this.exports.usedBytes();
    if (used + bytes > this.limitBytes) {
      throw new ScoringCoreError(
        'CORE_INDEX_TOO_LARGE',
        `${what} needs ${bytes} bytes but one scoring core instance holds at most ${this.limitBytes} (${used} in use); split the collection into smaller segments`,
      );
    }
  }

  /** Reserves zeroed bytes (16-byte aligned) and returns their address. */
  allocate(bytes: number): number {
    this.ensureFits(bytes, 'allocation');
    const address = this.call(() => this.exports.allocate(bytes));
    if (address === 0) throw new ScoringCoreError('CORE_OUT_OF_MEMORY', `could not grow wasm memory by ${bytes} bytes`);
    return address;
  }

  /** Copies a typed array into fresh core memory; returns its address. */
  copyIn(array: ArrayBufferView): number {
    const address = this.allocate(array.byteLength);
    this.views().u8.set(new Uint8Array(array.buffer, array.byteOffset, array.byteLength), address);
    return address;
  }

  /** Runs a core call, turning traps into CORE_TRAP. */
  call<T>(run: () => T): T {
    try {
      return run();
    } catch (error) {
      if (error instanceof ScoringCoreError) throw error;
      if (error instanceof WebAssembly.RuntimeError) throw new ScoringCoreError('CORE_TRAP', error.message, { cause: error });
      throw error;
    }
  }

  /** Throws the coded error for a negative status; returns non-negative results unchanged. */
  check(status: number, context: string): number {
    if (status >= 0) return status;
    const code = STATUS_CODES[status] ?? 'CORE_UNKNOWN_STATUS';
    throw new ScoringCoreError(code, `${context} failed with status ${status}`);
  }
}

function makeViews(buffer: ArrayBuffer): MemoryViews {
  return {
    buffer,
    u8: new Uint8Array(buffer),
    u16: new Uint16Array(buffer),
    u32: new Uint32Array(buffer),
    f32: new Float32Array(buffer),
  };
}
