import { ClientVectors, clientVectorsConfig, TransformersDenseEncoder, transformersDenseConfig, type DenseEncoder } from './dense.js';
import { EncoderError } from './encoder.js';
import { checkModelFolder, resolveModelSource } from './model-files.js';
import { StaticEmbeddingEncoder, checkEmbeddingFiles, staticEmbeddingsConfig } from './static-embeddings.js';

/** Builds a dense encoder from its stored configuration. */
export function createDenseEncoder(config: Readonly<Record<string, unknown>>): DenseEncoder {
  switch (config['type']) {
    case 'client':
      return new ClientVectors(clientVectorsConfig(config));
    case 'transformers':
      return new TransformersDenseEncoder(transformersDenseConfig(config));
    case 'static':
      return new StaticEmbeddingEncoder(staticEmbeddingsConfig(config));
    default:
      throw new EncoderError('UNKNOWN_ENCODER', `unknown dense encoder type ${JSON.stringify(config['type'])}; available: client, transformers, static`);
  }
}

/**
 * Checks now, when a collection is created, that the files the encoder will load exist (a local
 * model folder and its files, the word vectors, an IDF table), so a typo fails the creation and
 * not the first write. A hub id is not checked: it is fetched, where the network allows, on load.
 */
export function checkDenseEncoderFiles(config: Readonly<Record<string, unknown>>): void {
  const encoder = createDenseEncoder(config);
  if (encoder instanceof StaticEmbeddingEncoder) checkEmbeddingFiles(encoder.config);
  else if (encoder instanceof TransformersDenseEncoder) {
    const source = resolveModelSource(encoder.config.model);
    if (source.kind === 'folder') checkModelFolder(source.path, 'model');
  }
}

/** Fills defaults so the stored configuration is complete and explicit. */
export function normalizeDenseEncoderConfig(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { ...createDenseEncoder(config).config };
}
