/**
 * `kubekms doctor --encryption-config FILE`: what a kube-apiserver EncryptionConfiguration
 * (apiserver.config.k8s.io/v1) does with kubekms's own resources and with Secrets. Pure: the caller reads the file.
 *
 * kube-apiserver picks, for each resource, the FIRST rule whose `resources` names it — exactly
 * (`secrets`, `kmsstaterecords.kubekms.io`) or by wildcard (`*.` = every core resource, `*.<group>`, `*.*`) — and
 * writes with that rule's FIRST provider (the others only decrypt). A resource no rule names is stored as is.
 */
import { load, YAMLException } from 'js-yaml';
import { type CheckRow, row } from './report.ts';

export const ENCRYPTION_CONFIG_API_VERSION = 'apiserver.config.k8s.io/v1';
export const PROVIDER_TYPES = ['kms', 'identity', 'aescbc', 'aesgcm', 'secretbox'] as const;
export type ProviderType = (typeof PROVIDER_TYPES)[number];

export interface Provider {
  readonly type: ProviderType;
  /** kms only: `name`, `apiVersion` (kube-apiserver's default is v1), `endpoint`. */
  readonly name?: string;
  readonly apiVersion?: string;
  readonly endpoint?: string;
}

export interface ResourceRule {
  readonly resources: readonly string[];
  readonly providers: readonly Provider[];
}

export interface EncryptionConfig {
  readonly rules: readonly ResourceRule[];
}

/** The file cannot be used; the message names the file and the line or the field. */
export class EncryptionConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EncryptionConfigError';
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses the YAML (or JSON) text of an EncryptionConfiguration; errors name `file`, then the line or field. */
export function parseEncryptionConfig(text: string, file: string): EncryptionConfig {
  let doc: unknown;
  try {
    doc = load(text);
  } catch (e) {
    if (e instanceof YAMLException) {
      const line = e.mark ? `line ${e.mark.line + 1}, column ${e.mark.column + 1}: ` : '';
      throw new EncryptionConfigError(`${file}: ${line}not valid YAML: ${e.reason}`);
    }
    throw new EncryptionConfigError(`${file}: not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
  const bad = (field: string, problem: string) => new EncryptionConfigError(`${file}: ${field}: ${problem}`);
  if (!isObj(doc))
    throw new EncryptionConfigError(
      `${file}: not a YAML mapping (got ${doc === null ? 'null' : Array.isArray(doc) ? 'a list' : typeof doc})`,
    );
  if (doc.kind !== 'EncryptionConfiguration')
    throw bad('kind', `expected "EncryptionConfiguration", got ${JSON.stringify(doc.kind ?? null)}`);
  if (doc.apiVersion !== ENCRYPTION_CONFIG_API_VERSION)
    throw bad(
      'apiVersion',
      `expected "${ENCRYPTION_CONFIG_API_VERSION}", got ${JSON.stringify(doc.apiVersion ?? null)}`,
    );
  if (!Array.isArray(doc.resources) || doc.resources.length === 0)
    throw bad('resources', 'expected a non-empty list of rules');
  const rules = doc.resources.map((r: unknown, i: number): ResourceRule => {
    const at = `resources[${i}]`;
    if (!isObj(r)) throw bad(at, 'expected a mapping with resources and providers');
    if (!Array.isArray(r.resources) || r.resources.length === 0)
      throw bad(`${at}.resources`, 'expected a non-empty list of resource names');
    const resources = r.resources.map((name: unknown, j: number) => {
      if (typeof name !== 'string' || name === '')
        throw bad(`${at}.resources[${j}]`, `expected a resource name, got ${JSON.stringify(name)}`);
      return name;
    });
    if (!Array.isArray(r.providers) || r.providers.length === 0)
      throw bad(`${at}.providers`, 'expected a non-empty list of providers');
    const providers = r.providers.map((p: unknown, j: number) =>
      parseProvider(p, `${at}.providers[${j}]`, bad),
    );
    return { resources, providers };
  });
  return { rules };
}

function parseProvider(
  p: unknown,
  at: string,
  bad: (field: string, problem: string) => EncryptionConfigError,
): Provider {
  if (!isObj(p))
    throw bad(at, 'expected a mapping with one provider (kms, identity, aescbc, aesgcm, secretbox)');
  const keys = Object.keys(p);
  if (keys.length !== 1)
    throw bad(at, `expected exactly one provider type, got ${keys.length === 0 ? 'none' : keys.join(', ')}`);
  const type = keys[0] as string;
  if (!(PROVIDER_TYPES as readonly string[]).includes(type))
    throw bad(
      at,
      `unknown provider type ${JSON.stringify(type)} (expected one of ${PROVIDER_TYPES.join(', ')})`,
    );
  if (type !== 'kms') return { type: type as ProviderType };
  const kms = p.kms;
  if (!isObj(kms)) throw bad(`${at}.kms`, 'expected a mapping with name, apiVersion and endpoint');
  const str = (field: string, required: boolean): string | undefined => {
    const v = kms[field];
    if (v === undefined || v === null) {
      if (required) throw bad(`${at}.kms.${field}`, 'missing');
      return undefined;
    }
    if (typeof v !== 'string' || v === '')
      throw bad(`${at}.kms.${field}`, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  };
  const name = str('name', true) as string;
  const apiVersion = str('apiVersion', false) ?? 'v1';
  const endpoint = str('endpoint', true) as string;
  return { type: 'kms', name, apiVersion, endpoint };
}

/** `kmsstaterecords.kubekms.io` → `{ resource: 'kmsstaterecords', group: 'kubekms.io' }`; `secrets` → group ''. */
function split(resource: string): { resource: string; group: string } {
  const dot = resource.indexOf('.');
  return dot < 0
    ? { resource, group: '' }
    : { resource: resource.slice(0, dot), group: resource.slice(dot + 1) };
}

/** Whether one `resources` entry of a rule names `target` (a `resource.group`, or a core resource). */
export function entryMatches(entry: string, target: string): boolean {
  const t = split(target);
  if (entry === '*.*') return true;
  if (entry === '*.') return t.group === '';
  if (entry.startsWith('*.')) return t.group === entry.slice(2);
  const e = split(entry);
  return e.resource === t.resource && e.group === t.group;
}

export interface RuleMatch {
  readonly index: number;
  readonly entry: string;
  readonly rule: ResourceRule;
}

/** The first rule that names `target`, as kube-apiserver picks it; undefined when none does (stored as is). */
export function firstMatch(config: EncryptionConfig, target: string): RuleMatch | undefined {
  for (const [index, rule] of config.rules.entries()) {
    const entry = rule.resources.find((e) => entryMatches(e, target));
    if (entry !== undefined) return { index, entry, rule };
  }
  return undefined;
}

export function describeProvider(p: Provider): string {
  if (p.type !== 'kms') return p.type;
  return `kms ${p.apiVersion} "${p.name}" ${p.endpoint}`;
}

const describeMatch = (m: RuleMatch): string => `rule resources[${m.index}] (${m.entry})`;

/** kubekms's shared state: never to be written through kubekms, which has to read it to start (ADR 0009). */
export const KUBEKMS_STATE = 'kmsstaterecords.kubekms.io';
/**
 * Other objects kubekms reads: through kubekms they are unreadable while the plugin is down (no deadlock: the
 * state above is enough to start), so a kms provider first is a warning.
 */
export const KUBEKMS_OBJECTS = [
  'kmskeys.kubekms.io',
  'kmsaliases.kubekms.io',
  'kmsgrants.kubekms.io',
  'leases.coordination.k8s.io',
] as const;

/** `unix:///var/run/kubekms/kms.sock` → `/var/run/kubekms/kms.sock`; undefined for anything else. */
export function unixEndpointPath(endpoint: string): string | undefined {
  const m = /^unix:\/\/(\/.*)$/.exec(endpoint) ?? /^unix:(\/[^/].*)$/.exec(endpoint);
  if (!m) return undefined;
  return (m[1] as string).replace(/\/+/g, '/');
}

/**
 * Rows for the configuration: kubekms's own state, other kubekms objects (only when a kms provider writes them),
 * Secrets. `kmsSocket` is the plugin socket kubekms serves (--kms-socket), '' when it serves none.
 */
export function analyzeEncryptionConfig(config: EncryptionConfig, kmsSocket: string): CheckRow[] {
  const rows: CheckRow[] = [];
  const state = firstMatch(config, KUBEKMS_STATE);
  const stateWriter = state?.rule.providers[0];
  if (!state || !stateWriter)
    rows.push(
      row('encryption config: own state', 'ok', `no rule names ${KUBEKMS_STATE}: stored unencrypted`),
    );
  else if (stateWriter.type === 'kms')
    rows.push(
      row(
        'encryption config: own state',
        'FAIL',
        `${KUBEKMS_STATE} is written by ${describeProvider(stateWriter)} (${describeMatch(state)}): kubekms ` +
          `would be needed to read its own state; add a first rule {resources: [${KUBEKMS_STATE}], providers: ` +
          '[{identity: {}}]}',
      ),
    );
  else
    rows.push(
      row(
        'encryption config: own state',
        'ok',
        `${KUBEKMS_STATE} → ${describeProvider(stateWriter)} (${describeMatch(state)})`,
      ),
    );
  const throughKms: string[] = [];
  for (const target of KUBEKMS_OBJECTS) {
    const m = firstMatch(config, target);
    const writer = m?.rule.providers[0];
    if (m && writer?.type === 'kms') throughKms.push(`${target} (${describeMatch(m)})`);
  }
  if (throughKms.length > 0)
    rows.push(
      row(
        'encryption config: kubekms objects',
        'warn',
        `written by a kms provider, unreadable while it is down: ${throughKms.join(', ')}`,
      ),
    );
  rows.push(secretsRow(config, kmsSocket));
  return rows;
}

function secretsRow(config: EncryptionConfig, kmsSocket: string): CheckRow {
  const check = 'encryption config: secrets';
  const m = firstMatch(config, 'secrets');
  if (!m) return row(check, 'FAIL', 'no rule names secrets: Secrets are stored unencrypted');
  const writer = m.rule.providers[0] as Provider;
  const where = describeMatch(m);
  if (writer.type !== 'kms')
    return row(
      check,
      'FAIL',
      `secrets are written by ${writer.type} (${where}), not by the kubekms kms v2 provider`,
    );
  if (writer.apiVersion !== 'v2')
    return row(
      check,
      'FAIL',
      `secrets are written by ${describeProvider(writer)} (${where}): kubekms serves KMS v2; set apiVersion: v2`,
    );
  if (kmsSocket === '')
    return row(check, 'FAIL', `secrets → ${describeProvider(writer)} (${where}), but --kms-socket is empty`);
  const path = unixEndpointPath(writer.endpoint ?? '');
  if (path === undefined || path !== kmsSocket.replace(/\/+/g, '/'))
    return row(
      check,
      'FAIL',
      `secrets → ${describeProvider(writer)} (${where}): endpoint is not unix://${kmsSocket} (--kms-socket)`,
    );
  return row(check, 'ok', `secrets → ${describeProvider(writer)} (${where})`);
}
