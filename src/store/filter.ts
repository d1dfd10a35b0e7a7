import { SparrowError } from '../common/errors.js';

/**
 * Filters on stored fields, compiled to an SQL condition over the documents' JSON.
 *
 * Grammar (JSON):
 *   {"field": value}                              equality (string, number, boolean or null)
 *   {"field": {"in": [v1, v2, ...]}}              membership
 *   {"field": {"gte": a, "gt": a, "lte": b, "lt": b}}   ranges (numbers or strings), any combination
 *   {"field": {"ne": value}}, {"field": {"exists": true|false}}
 *   {"and": [f1, f2, ...]}, {"or": [f1, f2, ...]}, {"not": f}
 * Several keys in one object are combined with AND. "a.b" reaches nested objects.
 */
export type Filter = Readonly<Record<string, unknown>>;

export interface FilterLimits {
  readonly maxDepth: number;
  readonly maxClauses: number;
  readonly maxInValues: number;
}

export const DEFAULT_FILTER_LIMITS: FilterLimits = { maxDepth: 8, maxClauses: 64, maxInValues: 1024 };

export interface CompiledFilter {
  readonly sql: string;
  readonly params: (string | number | null)[];
}

const FIELD_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*(\.[A-Za-z0-9_][A-Za-z0-9_-]*)*$/;
const RANGE_OPERATORS: Record<string, string> = { gte: '>=', gt: '>', lte: '<=', lt: '<' };

export function compileFilter(filter: unknown, limits: FilterLimits = DEFAULT_FILTER_LIMITS): CompiledFilter {
  const params: (string | number | null)[] = [];
  let clauses = 0;
  const fail = (message: string): never => {
    throw new SparrowError('INVALID_FILTER', message);
  };
  const scalar = (value: unknown, where: string): string | number | null => {
    if (value === null || typeof value === 'string') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    if (typeof value === 'boolean') return value ? 1 : 0;
    return fail(`${where}: expected a string, a finite number, a boolean or null`);
  };
  const path = (field: string): string => {
    if (!FIELD_NAME.test(field)) fail(`field name ${JSON.stringify(field)} is not allowed in a filter`);
    return '$.' + field.split('.').map((part) => `"${part}"`).join('.');
  };
  const count = (): void => {
    if (++clauses > limits.maxClauses) {
      throw new SparrowError('FILTER_TOO_COMPLEX', `the filter has more than ${limits.maxClauses} clauses`);
    }
  };

  const node = (value: unknown, depth: number): string => {
    if (depth > limits.maxDepth) throw new SparrowError('FILTER_TOO_COMPLEX', `the filter nests deeper than ${limits.maxDepth} levels`);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('a filter must be a JSON object');
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 0) fail('an empty filter object matches nothing useful; leave the filter out instead');
    const parts = entries.map(([key, operand]) => {
      if (key === 'and' || key === 'or') {
        if (!Array.isArray(operand) || operand.length === 0) fail(`"${key}" takes a non-empty array of filters`);
        const inner = (operand as unknown[]).map((f) => node(f, depth + 1));
        return `(${inner.join(key === 'and' ? ' AND ' : ' OR ')})`;
      }
      if (key === 'not') return `(NOT ${node(operand, depth + 1)})`;
      count();
      const json = `json_extract(fields, ?)`;
      const field = path(key);
      if (operand !== null && typeof operand === 'object' && !Array.isArray(operand)) {
        const conditions: string[] = [];
        for (const [op, arg] of Object.entries(operand as Record<string, unknown>)) {
          if (op in RANGE_OPERATORS) {
            if (typeof arg !== 'number' && typeof arg !== 'string') fail(`"${op}" on ${key} takes a number or a string`);
            params.push(field, arg as string | number);
            conditions.push(`${json} ${RANGE_OPERATORS[op]} ?`);
          } else if (op === 'in') {
            if (!Array.isArray(arg) || arg.length === 0) fail(`"in" on ${key} takes a non-empty array`);
            if ((arg as unknown[]).length > limits.maxInValues) {
              throw new SparrowError('FILTER_TOO_COMPLEX', `"in" on ${key} lists more than ${limits.maxInValues} values`);
            }
            params.push(field);
            const values = (arg as unknown[]).map((v) => scalar(v, `"in" on ${key}`));
            params.push(...values);
            conditions.push(`${json} IN (${values.map(() => '?').join(', ')})`);
          } else if (op === 'ne') {
            params.push(field, scalar(arg, `"ne" on ${key}`));
            conditions.push(`${json} IS NOT ?`);
          } else if (op === 'exists') {
            if (typeof arg !== 'boolean') fail(`"exists" on ${key} takes true or false`);
            params.push(field);
            conditions.push(arg ? `json_type(fields, ?) IS NOT NULL` : `json_type(fields, ?) IS NULL`);
          } else {
            fail(`unknown operator ${JSON.stringify(op)} on ${key}; use in, gte, gt, lte, lt, ne or exists`);
          }
        }
        if (conditions.length === 0) fail(`the condition on ${key} is empty`);
        return `(${conditions.join(' AND ')})`;
      }
      if (Array.isArray(operand)) fail(`${key}: use {"in": [...]} to match one of several values`);
      params.push(field, scalar(operand, key));
      return `${json} IS ?`;
    });
    return parts.length === 1 ? parts[0]! : `(${parts.join(' AND ')})`;
  };
  const sql = node(filter, 0);
  return { sql, params };
}
