import crypto from 'node:crypto';
import fs from 'node:fs';
import { SparrowError } from '../common/errors.js';

/**
 * Roles, each including the ones below it: read (search, get), write (documents, jobs), admin
 * (collections). "public" marks routes open to anyone (health, readiness, the API document).
 */
export type Role = 'read' | 'write' | 'admin';
export type Access = Role | 'public';

const RANK: Readonly<Record<Role, number>> = { read: 1, write: 2, admin: 3 };
export const ROLES: readonly Role[] = ['read', 'write', 'admin'];

export interface ApiKey {
  /** Shown in logs and metrics instead of the secret. */
  readonly name: string;
  readonly role: Role;
  readonly key: string;
}

/** A guessable key would make the whole scheme pointless. */
export const MIN_KEY_LENGTH = 16;

/**
 * The configured API keys. Lookups hash the presented key and compare it with every configured
 * key's hash in constant time, never stopping early, so timing reveals neither which key nor how
 * much of one matched.
 */
export class ApiKeys {
  private readonly entries: { name: string; role: Role; digest: Buffer }[];

  constructor(keys: readonly ApiKey[]) {
    const names = new Set<string>();
    this.entries = keys.map((k) => {
      if (!ROLES.includes(k.role)) throw new SparrowError('INVALID_KEY_CONFIG', `API key ${JSON.stringify(k.name)} has unknown role ${JSON.stringify(k.role)}; use read, write or admin`);
      if (typeof k.key !== 'string' || k.key.length < MIN_KEY_LENGTH) {
        throw new SparrowError('INVALID_KEY_CONFIG', `API key ${JSON.stringify(k.name)} is shorter than ${MIN_KEY_LENGTH} characters`);
      }
      if (/\s/.test(k.key)) throw new SparrowError('INVALID_KEY_CONFIG', `API key ${JSON.stringify(k.name)} contains white space`);
      if (names.has(k.name)) throw new SparrowError('INVALID_KEY_CONFIG', `two API keys are named ${JSON.stringify(k.name)}`);
      names.add(k.name);
      return { name: k.name, role: k.role, digest: digest(k.key) };
    });
  }

  get size(): number {
    return this.entries.length;
  }

  /** The key's name and role, or undefined for an unknown key. */
  identify(presented: string): { name: string; role: Role } | undefined {
    const candidate = digest(presented);
    let found: { name: string; role: Role } | undefined;
    for (const entry of this.entries) {
      if (crypto.timingSafeEqual(candidate, entry.digest) && !found) found = { name: entry.name, role: entry.role };
    }
    return found;
  }

  static allows(role: Role, needed: Role): boolean {
    return RANK[role] >= RANK[needed];
  }

  /**
   * Keys from the environment (SPARROW_ADMIN_KEYS, SPARROW_WRITE_KEYS, SPARROW_READ_KEYS: comma
   * separated) and from an optional JSON file `{"keys": [{"name", "role", "key"}]}`.
   */
  static fromConfiguration(env: NodeJS.ProcessEnv, keysFile?: string): ApiKeys {
    const keys: ApiKey[] = [];
    for (const role of ROLES) {
      const variable = `SPARROW_${role.toUpperCase()}_KEYS`;
      const list = (env[variable] ?? '').split(',').map((k) => k.trim()).filter((k) => k.length > 0);
      list.forEach((key, i) => keys.push({ name: `${role}-${i + 1}`, role, key }));
    }
    if (keysFile) keys.push(...readKeysFile(keysFile));
    return new ApiKeys(keys);
  }
}

function readKeysFile(file: string): ApiKey[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new SparrowError('INVALID_KEY_CONFIG', `cannot read API keys from ${file}: ${(error as Error).message}`);
  }
  const list = (parsed as { keys?: unknown })?.keys;
  if (!Array.isArray(list)) throw new SparrowError('INVALID_KEY_CONFIG', `${file} must hold {"keys": [{"name", "role", "key"}, ...]}`);
  return list.map((entry, i) => {
    const e = entry as Partial<ApiKey>;
    if (typeof e.key !== 'string' || typeof e.role !== 'string') {
      throw new SparrowError('INVALID_KEY_CONFIG', `${file}: key ${i + 1} needs a "key" and a "role"`);
    }
    return { name: typeof e.name === 'string' && e.name ? e.name : `file-${i + 1}`, role: e.role, key: e.key };
  });
}

function digest(value: string): Buffer {
  return crypto.createHash('sha256').update(value, 'utf8').digest();
}

/** The key a request presents: `Authorization: Bearer KEY` or `X-API-Key: KEY`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const header = headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header : undefined;
}

/** Addresses only this machine can reach; anything else needs keys (or an explicit opt-out). */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h) || h === '::ffff:127.0.0.1';
}
