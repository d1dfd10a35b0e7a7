import { Bm25Encoder, bm25Config, type Bm25EncoderConfig } from './bm25.js';
import { EncoderError, type SparseEncoder } from './encoder.js';
import fs from 'node:fs';
import { checkModelFolder, resolveModelSource } from './model-files.js';
import { SpladeEncoder, spladeConfig } from './splade.js';
import { PrecomputedEncoder, precomputedConfig, type PrecomputedEncoderConfig } from './precomputed.js';

/** Builds an encoder from its stored configuration (collections keep the configuration as JSON). */
export function createEncoder(config: Readonly<Record<string, unknown>>): SparseEncoder {
  const type = config['type'] ?? 'bm25';
  switch (type) {
    case 'bm25':
      return new Bm25Encoder(bm25Config(config as Partial<Bm25EncoderConfig>));
    case 'precomputed':
      return new PrecomputedEncoder(precomputedConfig(config as Partial<PrecomputedEncoderConfig>));
    case 'splade':
      return new SpladeEncoder(spladeConfig(config));
    default:
      throw new EncoderError('UNKNOWN_ENCODER', `unknown encoder type ${JSON.stringify(type)}; available: bm25, precomputed, splade`);
  }
}

/** Checks that the files a model encoder will load exist (see checkDenseEncoderFiles). */
export function checkEncoderFiles(config: Readonly<Record<string, unknown>>): void {
  if (config['type'] !== 'splade') return;
  const splade = spladeConfig(config);
  for (const model of [splade.model, splade.queryModel]) {
    if (model === undefined) continue;
    const source = resolveModelSource(model);
    if (source.kind === 'folder') checkModelFolder(source.path, 'model');
  }
  if (splade.idf !== undefined && !fs.existsSync(splade.idf)) throw new EncoderError('IDF_TABLE_NOT_FOUND', `IDF table ${splade.idf} does not exist`);
}

/** Fills defaults so the stored configuration is complete and explicit. */
export function normalizeEncoderConfig(config: Readonly<Record<string, unknown>> = {}): Record<string, unknown> {
  return { ...createEncoder(config).config };
}
