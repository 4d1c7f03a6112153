/**
 * Table rows from what the doctor's probes found (socket, root key, keystore, API). Pure: the probes in
 * run-doctor.ts do the I/O and hand their findings here.
 */
import type { RootKeyIdentity } from '../engine/ports.ts';
import type { KeystoreInspection } from '../keystore/inspect.ts';
import type { StatusAnswer } from './kms-status.ts';
import { type CheckRow, row } from './report.ts';

export type SocketFinding =
  | { readonly kind: 'disabled' }
  | { readonly kind: 'missing'; readonly path: string }
  | { readonly kind: 'unreadable'; readonly path: string; readonly error: string }
  | {
      readonly kind: 'found';
      readonly path: string;
      readonly isSocket: boolean;
      /** Permission bits (0o777 mask). */
      readonly mode: number;
      /** The Status call's answer, or its error message. */
      readonly status: StatusAnswer | string;
    };

const octal = (mode: number): string => `0${mode.toString(8).padStart(3, '0')}`;

export function socketRow(f: SocketFinding): CheckRow {
  if (f.kind === 'disabled')
    return row('socket', 'skip', '--kms-socket is empty: the KMS v2 plugin is disabled');
  if (f.kind === 'missing')
    return row('socket', 'FAIL', `no socket at ${f.path} (is kubekms serve running with this --kms-socket?)`);
  if (f.kind === 'unreadable') return row('socket', 'FAIL', `cannot stat ${f.path}: ${f.error}`);
  if (!f.isSocket) return row('socket', 'FAIL', `${f.path} exists but is not a unix socket`);
  if ((f.mode & 0o007) !== 0)
    return row(
      'socket',
      'FAIL',
      `${f.path} has mode ${octal(f.mode)}: every local user can ask it to decrypt; serve sets 0600 (--socket-mode)`,
    );
  const mode = `mode ${octal(f.mode)}`;
  if (typeof f.status === 'string')
    return row('socket', 'FAIL', `${f.path} (${mode}): Status failed: ${f.status}`);
  const s = f.status;
  const problems: string[] = [];
  if (s.version !== 'v2' && s.version !== 'v2beta1')
    problems.push(`version ${JSON.stringify(s.version)} is not v2`);
  if (s.healthz !== 'ok') problems.push(`healthz ${JSON.stringify(s.healthz)}`);
  if (s.keyId === '') problems.push('empty key_id');
  else if (Buffer.byteLength(s.keyId) > 1024) problems.push('key_id longer than 1 KiB');
  const said = `version ${s.version}, healthz ${s.healthz}, key_id ${s.keyId || '""'}`;
  if (problems.length > 0)
    return row(
      'socket',
      'FAIL',
      `${f.path} (${mode}): kube-apiserver would refuse: ${problems.join(', ')} (${said})`,
    );
  return row('socket', 'ok', `${f.path} (${mode}): ${said}`);
}

export type RootKeyFinding =
  | { readonly kind: 'error'; readonly error: string }
  | {
      readonly kind: 'opened';
      readonly description: string;
      readonly dev: boolean;
      readonly roundTrip: true | string;
    };

export function rootKeyRow(f: RootKeyFinding): CheckRow {
  if (f.kind === 'error') return row('root key', 'FAIL', f.error);
  if (f.roundTrip !== true)
    return row('root key', 'FAIL', `${f.description}: wrap/unwrap round trip failed: ${f.roundTrip}`);
  if (f.dev)
    return row(
      'root key',
      'warn',
      `${f.description}: wrap/unwrap ok, but a DEVELOPMENT key (--dev) next to the data it protects; use --root-key-file`,
    );
  return row('root key', 'ok', `${f.description}: wrap/unwrap round trip ok`);
}

export function keystoreRow(
  f: KeystoreInspection | { readonly error: string } | undefined,
  secretsKey: string,
  root?: RootKeyIdentity,
): CheckRow {
  if (f === undefined) return row('keystore', 'skip', 'needs the root key');
  if ('error' in f) return row('keystore', 'FAIL', f.error);
  const counts = `${f.keys} key${f.keys === 1 ? '' : 's'}, ${f.aliases} alias${f.aliases === 1 ? '' : 'es'}, ${f.grants} grant${f.grants === 1 ? '' : 's'}`;
  const owner = f.lockedByPid !== undefined ? `, in use by pid ${f.lockedByPid}` : ', not in use';
  // Which root of trust protects the store (a rotation moves it to another: docs/root-of-trust.md).
  const which = root === undefined ? '' : ` (${root.kind}, fingerprint ${root.fingerprint})`;
  const base = `${f.file}: sealed by this root key${which}, generation ${f.generation}, ${counts}${owner}`;
  if (!f.secretsKey)
    return row(
      'keystore',
      'warn',
      `${base}; no Secrets key ${secretsKey} yet (serve creates the cluster-managed one on its first start)`,
    );
  return row(
    'keystore',
    'ok',
    `${base}; Secrets key ${f.secretsKey.keyId} primary v${f.secretsKey.primaryVersion} of ${f.secretsKey.versions}`,
  );
}

/** What GET /version and GET /apis/kubekms.io/v1alpha1 answered (a string: the request failed). */
export interface ApiFinding {
  readonly server: string;
  readonly version: { readonly status: number; readonly body: string } | string;
  readonly discovery?: { readonly status: number; readonly body: string } | string;
}

export const STATE_RESOURCE = 'kmsstaterecords';
export const STATE_GROUP_VERSION = 'kubekms.io/v1alpha1';

export function apiRow(f: ApiFinding): CheckRow {
  if (typeof f.version === 'string') return row('api', 'FAIL', `${f.server}: ${f.version}`);
  if (f.version.status !== 200)
    return row(
      'api',
      'FAIL',
      `${f.server}: GET /version answered HTTP ${f.version.status}: ${f.version.body.slice(0, 200)}`,
    );
  let gitVersion = '?';
  try {
    gitVersion = String((JSON.parse(f.version.body) as { gitVersion?: unknown }).gitVersion ?? '?');
  } catch {
    return row('api', 'FAIL', `${f.server}: GET /version answered something that is not JSON`);
  }
  const where = `${f.server} (Kubernetes ${gitVersion})`;
  const d = f.discovery;
  if (d === undefined) return row('api', 'ok', where);
  if (typeof d === 'string') return row('api', 'FAIL', `${where}: GET /apis/${STATE_GROUP_VERSION}: ${d}`);
  if (d.status === 404)
    return row(
      'api',
      'FAIL',
      `${where}: ${STATE_GROUP_VERSION} is not served: install the CRDs (kubectl apply -f crds/)`,
    );
  if (d.status === 401 || d.status === 403)
    return row(
      'api',
      'FAIL',
      `${where}: GET /apis/${STATE_GROUP_VERSION} answered HTTP ${d.status} (credentials/RBAC)`,
    );
  if (d.status !== 200)
    return row('api', 'FAIL', `${where}: GET /apis/${STATE_GROUP_VERSION} answered HTTP ${d.status}`);
  let names: string[] = [];
  try {
    const list = JSON.parse(d.body) as { resources?: { name?: unknown }[] };
    names = (list.resources ?? []).map((r) => String(r.name));
  } catch {
    return row('api', 'FAIL', `${where}: the discovery document of ${STATE_GROUP_VERSION} is not JSON`);
  }
  if (!names.includes(STATE_RESOURCE))
    return row(
      'api',
      'FAIL',
      `${where}: the KmsStateRecord CRD (${STATE_RESOURCE}.kubekms.io) is not served: install the CRDs (kubectl apply -f crds/)`,
    );
  return row('api', 'ok', `${where}; KmsStateRecord CRD served`);
}
