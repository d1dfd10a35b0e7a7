import { parsingError } from './errors.js';

/** What _source asks for: everything, nothing, or fields by pattern (a*b wildcards, dotted paths). */
export interface SourceSpec {
  readonly enabled: boolean;
  readonly includes: readonly string[];
  readonly excludes: readonly string[];
}

function strings(value: unknown, where: string): string[] {
  if (value === undefined) return [];
  const list = Array.isArray(value) ? value : [value];
  if (list.some((v) => typeof v !== 'string')) throw parsingError(`[${where}] must be a string or a list of strings`);
  return list as string[];
}

/** _source as the search body or the _source / _source_includes / _source_excludes URL parameters give it. */
export function sourceSpec(value: unknown, params: { includes?: string | undefined; excludes?: string | undefined } = {}): SourceSpec {
  let spec: SourceSpec;
  if (value === undefined || value === true || value === 'true') spec = { enabled: true, includes: [], excludes: [] };
  else if (value === false || value === 'false') spec = { enabled: false, includes: [], excludes: [] };
  else if (typeof value === 'string' || Array.isArray(value)) spec = { enabled: true, includes: strings(typeof value === 'string' ? value.split(',') : value, '_source'), excludes: [] };
  else if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    for (const key of Object.keys(o)) if (!['includes', 'excludes', 'include', 'exclude'].includes(key)) throw parsingError(`[_source] does not support [${key}]`);
    spec = { enabled: true, includes: strings(o['includes'] ?? o['include'], '_source.includes'), excludes: strings(o['excludes'] ?? o['exclude'], '_source.excludes') };
  } else throw parsingError('[_source] must be a boolean, a string, a list or an object');
  if (params.includes) spec = { ...spec, enabled: true, includes: params.includes.split(',') };
  if (params.excludes) spec = { ...spec, enabled: true, excludes: params.excludes.split(',') };
  return spec;
}

function matcher(patterns: readonly string[]): (path: string) => boolean {
  const regexes = patterns.map((p) => new RegExp(`^${p.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/gu, '\\$&')).join('.*')}$`, 'u'));
  return (path) => regexes.some((r) => r.test(path));
}

/**
 * The source with only the wanted fields. A pattern names a field by its dotted path; including
 * an object includes all under it, and a field inside an included path is kept.
 */
export function filterSource(source: Record<string, unknown>, spec: SourceSpec): Record<string, unknown> | undefined {
  if (!spec.enabled) return undefined;
  if (spec.includes.length === 0 && spec.excludes.length === 0) return source;
  const include = spec.includes.length > 0 ? matcher(spec.includes) : undefined;
  const exclude = spec.excludes.length > 0 ? matcher(spec.excludes) : undefined;
  // A parent path is kept when some include pattern could match below it.
  const mayContain = (path: string): boolean => spec.includes.some((p) => p.startsWith(`${path}.`) || p === '*' || (p.includes('*') && matcher([p.split('.')[0]!])(path.split('.')[0]!)));
  const walk = (node: Record<string, unknown>, prefix: string, included: boolean): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(node)) {
      const path = prefix ? `${prefix}.${key}` : key;
      if (exclude?.(path)) continue;
      const here = included || include === undefined || include(path);
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        if (here || mayContain(path)) {
          const inner = walk(value as Record<string, unknown>, path, here);
          if (here || Object.keys(inner).length > 0) out[key] = inner;
        }
      } else if (here) out[key] = value;
    }
    return out;
  };
  return walk(source, '', false);
}
