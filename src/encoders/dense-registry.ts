import { ClientVectors, clientVectorsConfig, TransformersDenseEncoder, transformersDenseConfig, type DenseEncoder } from './dense.js';
import { EncoderError } from './encoder.js';
import { StaticEmbeddingEncoder, staticEmbeddingsConfig } from './static-embeddings.js';

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

/** Fills defaults so the stored configuration is complete and explicit. */
export function normalizeDenseEncoderConfig(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  return { ...createDenseEncoder(config).config };
}
