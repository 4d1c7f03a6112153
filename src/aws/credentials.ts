/**
 * The access keys the AWS API accepts: a JSON document (a file, typically mounted from a Kubernetes Secret)
 *
 *   {"credentials":[{"accessKeyId":"…","secretAccessKey":"…","principal":"system:serviceaccount:NS:NAME",
 *                    "admin":false,"groups":["team-a"]}]}
 *
 * Each access key maps to one Kubernetes-style principal; `admin: true` principals may manage and use every
 * key. The file must not be readable by group or others. In --dev mode the pair test/test (as LocalStack
 * uses) is an administrator. There is no anonymous access.
 */
import { readFile, stat } from 'node:fs/promises';
import type { Caller } from '../engine/policy.ts';

export interface Credential {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly caller: Extract<Caller, { kind: 'principal' }>;
}

export class CredentialsError extends Error {
  override name = 'CredentialsError';
}

const ACCESS_KEY_RE = /^[A-Za-z0-9_+=,.@-]{1,128}$/;
const PRINCIPAL_RE = /^[\w+=,.@:/-]{1,256}$/;

export const DEV_CREDENTIAL: Credential = Object.freeze({
  accessKeyId: 'test',
  secretAccessKey: 'test',
  caller: Object.freeze({ kind: 'principal', name: 'kubekms:dev:test', groups: [], admin: true }),
});

function fail(where: string, problem: string): never {
  throw new CredentialsError(`${where}: ${problem}`);
}

/** Validates a parsed credentials document. Errors name the field path, e.g. `credentials[1].principal`. */
export function parseCredentials(doc: unknown, source = 'credentials file'): Credential[] {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) fail(source, 'must be a JSON object');
  const list = (doc as { credentials?: unknown }).credentials;
  if (!Array.isArray(list)) fail(`${source}: credentials`, 'must be a list');
  const seen = new Set<string>();
  return list.map((c: unknown, i): Credential => {
    const at = `${source}: credentials[${i}]`;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) fail(at, 'must be an object');
    const e = c as Record<string, unknown>;
    for (const k of Object.keys(e)) {
      if (!['accessKeyId', 'secretAccessKey', 'principal', 'admin', 'groups'].includes(k)) {
        fail(`${at}.${k}`, 'unknown field (expected accessKeyId, secretAccessKey, principal, admin, groups)');
      }
    }
    if (typeof e.accessKeyId !== 'string' || !ACCESS_KEY_RE.test(e.accessKeyId)) {
      fail(`${at}.accessKeyId`, 'must be a string of 1-128 characters [A-Za-z0-9_+=,.@-]');
    }
    if (seen.has(e.accessKeyId)) fail(`${at}.accessKeyId`, `duplicate access key id ${e.accessKeyId}`);
    seen.add(e.accessKeyId);
    if (
      typeof e.secretAccessKey !== 'string' ||
      e.secretAccessKey.length < 1 ||
      e.secretAccessKey.length > 1024
    ) {
      fail(`${at}.secretAccessKey`, 'must be a string of 1-1024 characters');
    }
    if (typeof e.principal !== 'string' || !PRINCIPAL_RE.test(e.principal)) {
      fail(
        `${at}.principal`,
        'must be a principal name such as system:serviceaccount:NS:NAME (1-256 characters)',
      );
    }
    if (e.admin !== undefined && typeof e.admin !== 'boolean') fail(`${at}.admin`, 'must be true or false');
    let groups: string[] = [];
    if (e.groups !== undefined) {
      if (!Array.isArray(e.groups)) fail(`${at}.groups`, 'must be a list of group names');
      groups = e.groups.map((g: unknown, j) => {
        if (typeof g !== 'string' || !PRINCIPAL_RE.test(g))
          fail(`${at}.groups[${j}]`, 'must be a group name');
        return g;
      });
    }
    return {
      accessKeyId: e.accessKeyId,
      secretAccessKey: e.secretAccessKey,
      caller: { kind: 'principal', name: e.principal, groups, admin: e.admin === true },
    };
  });
}

/** Reads and validates the file; refuses one that group or others may read or write. */
export async function loadCredentialsFile(path: string): Promise<Credential[]> {
  let mode: number;
  try {
    mode = (await stat(path)).mode;
  } catch (e) {
    throw new CredentialsError(`${path}: cannot read the credentials file (${(e as Error).message})`);
  }
  if (mode & 0o077) {
    throw new CredentialsError(
      `${path}: mode ${(mode & 0o777).toString(8).padStart(4, '0')} lets group or others read it; chmod 0600 (or defaultMode: 0400 on the Secret volume)`,
    );
  }
  const text = await readFile(path, 'utf8');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new CredentialsError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return parseCredentials(doc, path);
}

/** Access key id → credential. */
export class CredentialStore {
  readonly #byId: ReadonlyMap<string, Credential>;

  constructor(credentials: readonly Credential[]) {
    this.#byId = new Map(credentials.map((c) => [c.accessKeyId, c]));
  }

  get size(): number {
    return this.#byId.size;
  }

  get(accessKeyId: string): Credential | undefined {
    return this.#byId.get(accessKeyId);
  }
}
