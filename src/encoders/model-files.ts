import fs from 'node:fs';
import path from 'node:path';
import { EncoderError } from './encoder.js';

/**
 * Where a model comes from: a local folder (the only choice on a machine without network access),
 * or a Hugging Face hub id ("owner/name") that transformers.js may download where the network
 * allows it. A spec naming an existing folder is always the folder.
 */
export type ModelSource = { readonly kind: 'folder'; readonly path: string } | { readonly kind: 'hub'; readonly id: string };

/** What a folder must hold for each use, in the layout transformers.js loads. */
export const REQUIRED_FILES = {
  /** A masked-LM (SPLADE) or feature-extraction (dense) model. */
  model: ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'],
  /** Tokenizer only (inference-free queries). */
  tokenizer: ['tokenizer.json', 'tokenizer_config.json'],
} as const;

export type ModelFolderUse = keyof typeof REQUIRED_FILES;

const HUB_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** Resolves a configured model spec; relative folder paths resolve against `baseDir` (default: cwd). */
export function resolveModelSource(spec: string, baseDir = process.cwd()): ModelSource {
  if (typeof spec !== 'string' || spec.trim().length === 0) throw new EncoderError('INVALID_ENCODER_CONFIG', 'a model must be a folder path or a hub id');
  const local = path.resolve(baseDir, spec);
  if (fs.existsSync(local)) return { kind: 'folder', path: local };
  if (HUB_ID.test(spec) && !spec.startsWith('.')) return { kind: 'hub', id: spec };
  return { kind: 'folder', path: local };
}

/**
 * Checks that a local model folder holds what `use` needs, and says plainly what is missing
 * (transformers.js' own message for a missing file speaks of remote loading being disabled).
 */
export function checkModelFolder(folder: string, use: ModelFolderUse): void {
  const required = REQUIRED_FILES[use];
  const wanted = `a model folder must hold ${required.join(', ')}`;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(folder);
  } catch {
    throw new EncoderError('MODEL_NOT_FOUND', `model folder ${folder} does not exist; ${wanted}`);
  }
  if (!stat.isDirectory()) throw new EncoderError('MODEL_NOT_FOUND', `${folder} is not a folder; ${wanted}`);
  const missing = required.filter((file) => !fs.existsSync(path.join(folder, file)));
  if (missing.length > 0) {
    throw new EncoderError('MODEL_FILES_MISSING', `model folder ${folder} lacks ${missing.join(', ')}; ${wanted}`);
  }
}

/** Wraps a failure to fetch a hub model into the same plain message. */
export function hubLoadError(id: string, use: ModelFolderUse, cause: unknown): EncoderError {
  const message = cause instanceof Error ? cause.message : String(cause);
  return new EncoderError(
    'MODEL_NOT_FOUND',
    `model ${JSON.stringify(id)} is neither a local folder nor loadable from the hub (${message}); ` +
      `give a folder holding ${REQUIRED_FILES[use].join(', ')}`,
  );
}

/** Options for transformers.js' from_pretrained: offline for folders, remote allowed for hub ids. */
export function pretrainedOptions(source: ModelSource): { local_files_only: boolean } {
  return { local_files_only: source.kind === 'folder' };
}

export function sourceName(source: ModelSource): string {
  return source.kind === 'folder' ? source.path : source.id;
}
