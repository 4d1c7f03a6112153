/**
 * `kubekms doctor`: runs every check (each with its own timeout) and returns the table rows. The probes here do
 * the I/O; the rows come from the pure functions in rows.ts, instances.ts, clock-skew.ts and encryption-config.ts.
 * Nothing is created or changed: no keystore lock is taken, no development root key is made, nothing is written
 * to the API.
 */
import { randomBytes } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseKeyIdWrites } from '../api/apiserver-writes.ts';
import {
  type HeartbeatLeaseLike,
  INSTANCE_LABEL,
  INSTANCE_LABEL_VALUE,
  ROOT_MARKER_LEASE,
  readHeartbeat,
} from '../api/heartbeat-format.ts';
import type { KmsStateRecord } from '../api/kinds.ts';
import type { RootKey } from '../engine/ports.ts';
import { SecretBytes } from '../engine/secret.ts';
import { inspectKeystore } from '../keystore/inspect.ts';
import type { KubeConfig } from '../kube/kubeconfig.ts';
import { type KubeGet, type KubeResponse, kubeGetter } from '../kube/raw-http.ts';
import { clockSkewRow } from './clock-skew.ts';
import { keystoreBehindRow } from './data-versions-check.ts';
import {
  analyzeEncryptionConfig,
  EncryptionConfigError,
  parseEncryptionConfig,
} from './encryption-config.ts';
import { compareInstances, rootMarkerRows } from './instances.ts';
import { kmsStatus } from './kms-status.ts';
import { type CheckRow, row } from './report.ts';
import {
  type ApiFinding,
  apiRow,
  keystoreRow,
  type RootKeyFinding,
  rootKeyRow,
  type SocketFinding,
  STATE_GROUP_VERSION,
  STATE_RESOURCE,
  socketRow,
} from './rows.ts';
import { stateRecordsRow } from './state-records-check.ts';

export interface DoctorOptions {
  readonly dataDir: string;
  /** '' = the plugin is disabled. */
  readonly kmsSocket: string;
  readonly namespace: string;
  readonly secretsKey: string;
  /** --encryption-config; '' = not checked. */
  readonly encryptionConfig: string;
  /** Per check. */
  readonly timeoutMs: number;
  /** Opens the root key as serve would (openRootKey with serve's flags); rejects with a message to show. */
  readonly openRootKey: () => Promise<RootKey>;
  /** Whether the root key is a development key (--dev without another root key). */
  readonly devRootKey: boolean;
  /** The kubeconfig, or why none is usable. */
  readonly kube: KubeConfig | string;
  /** For tests: instead of HTTPS with the kubeconfig. */
  readonly kubeGet?: KubeGet;
  readonly now?: () => number;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Rejects with "<what>: no answer within N s (--timeout)" when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms / 1000} s (--timeout)`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export async function runDoctor(o: DoctorOptions): Promise<CheckRow[]> {
  const now = o.now ?? Date.now;
  const rows: CheckRow[] = [];
  rows.push(socketRow(await probeSocket(o.kmsSocket, o.timeoutMs)));

  let rootKey: RootKey | undefined;
  let rootFinding: RootKeyFinding;
  try {
    rootKey = await withTimeout(o.openRootKey(), o.timeoutMs, 'opening the root key');
    rootFinding = {
      kind: 'opened',
      description: rootKey.description,
      dev: o.devRootKey,
      roundTrip: await withTimeout(roundTrip(rootKey), o.timeoutMs, 'wrap/unwrap'),
    };
  } catch (e) {
    rootFinding = { kind: 'error', error: message(e) };
  }
  rows.push(rootKeyRow(rootFinding));
  if (rootFinding.kind === 'opened' && rootFinding.roundTrip !== true) rootKey = undefined;

  let inspection: Parameters<typeof keystoreRow>[0];
  if (rootKey) {
    try {
      inspection = await withTimeout(
        inspectKeystore({ dataDir: o.dataDir, rootKey, secretsKey: o.secretsKey }),
        o.timeoutMs,
        'reading the keystore',
      );
    } catch (e) {
      inspection = { error: message(e) };
    }
  }
  rows.push(keystoreRow(inspection, o.secretsKey, rootKey?.identity));

  const secrets = inspection !== undefined && 'secretsKey' in inspection ? inspection.secretsKey : undefined;
  rows.push(...(await apiRows(o, now, rootKey, secrets)));

  if (o.encryptionConfig !== '') rows.push(...(await encryptionConfigRows(o.encryptionConfig, o.kmsSocket)));
  return rows;
}

async function probeSocket(path: string, timeoutMs: number): Promise<SocketFinding> {
  if (path === '') return { kind: 'disabled' };
  const abs = resolve(path);
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing', path: abs };
    return { kind: 'unreadable', path: abs, error: message(e) };
  }
  const base = { kind: 'found', path: abs, isSocket: st.isSocket(), mode: st.mode & 0o777 } as const;
  if (!st.isSocket()) return { ...base, status: 'not a socket' };
  try {
    return { ...base, status: await withTimeout(kmsStatus(abs, timeoutMs), timeoutMs + 1000, 'Status') };
  } catch (e) {
    return { ...base, status: message(e) };
  }
}

/** Wraps 32 random bytes under a doctor-only AAD and unwraps them: true, or what went wrong. */
async function roundTrip(rootKey: RootKey): Promise<true | string> {
  const value = new Uint8Array(randomBytes(32));
  const aad = new TextEncoder().encode('kubekms/doctor-round-trip/v1');
  const wrapped = await rootKey.wrap(new SecretBytes(new Uint8Array(value)), aad);
  const back = await rootKey.unwrap(wrapped, aad);
  const same = Buffer.from(back.unsafeBytes()).equals(Buffer.from(value));
  back.wipe();
  value.fill(0);
  return same ? true : 'unwrap returned other bytes than were wrapped';
}

async function apiRows(
  o: DoctorOptions,
  now: () => number,
  rootKey?: RootKey,
  secrets?: { readonly keyId: string; readonly newestVersion: number },
): Promise<CheckRow[]> {
  if (typeof o.kube === 'string')
    return [
      row('api', 'skip', o.kube),
      row('clock skew', 'skip', 'needs the API'),
      row('instances', 'skip', 'needs the API'),
    ];
  const server = o.kube.getCurrentCluster()?.server ?? '?';
  let get: KubeGet;
  try {
    get = o.kubeGet ?? kubeGetter(o.kube);
  } catch (e) {
    return [
      row('api', 'FAIL', `${server}: ${message(e)}`),
      row('clock skew', 'skip', 'needs the API'),
      row('instances', 'skip', 'needs the API'),
    ];
  }
  const fetch = async (path: string): Promise<KubeResponse | string> => {
    try {
      return await withTimeout(get(path, o.timeoutMs), o.timeoutMs + 1000, `GET ${path}`);
    } catch (e) {
      return message(e);
    }
  };
  const version = await fetch('/version');
  const finding: ApiFinding = {
    server,
    version,
    ...(typeof version === 'string' ? {} : { discovery: await fetch(`/apis/${STATE_GROUP_VERSION}`) }),
  };
  const rows = [apiRow(finding)];
  if (typeof version === 'string' || version.status !== 200) {
    rows.push(row('clock skew', 'skip', 'needs the API'), row('instances', 'skip', 'needs the API'));
    return rows;
  }
  const date = version.headers.date;
  rows.push(clockSkewRow(typeof date === 'string' ? date : undefined, version.sentAt, version.receivedAt));

  const selector = encodeURIComponent(`${INSTANCE_LABEL}=${INSTANCE_LABEL_VALUE}`);
  const leases = await fetch(
    `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(o.namespace)}/leases?labelSelector=${selector}`,
  );
  if (typeof leases === 'string') rows.push(row('instances', 'FAIL', `listing heartbeat Leases: ${leases}`));
  else if (leases.status !== 200)
    rows.push(
      row(
        'instances',
        'FAIL',
        `listing heartbeat Leases in ${o.namespace}: HTTP ${leases.status} ${leases.body.slice(0, 200)}`,
      ),
    );
  else {
    try {
      const items = (JSON.parse(leases.body) as { items?: HeartbeatLeaseLike[] }).items ?? [];
      rows.push(
        ...compareInstances(
          items.map((l) => readHeartbeat({ metadata: l.metadata, spec: l.spec ?? {} })),
          now(),
          o.namespace,
        ),
      );
    } catch (e) {
      rows.push(row('instances', 'FAIL', `the Lease list is not readable: ${message(e)}`));
    }
  }
  rows.push(...(await markerRows(fetch, o.namespace)));
  rows.push(await sharedRecordsRow(fetch, o.namespace, rootKey));
  // Only when it finds something: an API server's metrics may be closed to this user, or name no write yet.
  const metrics = secrets ? await fetch('/metrics') : undefined;
  const behind =
    secrets && typeof metrics === 'object' && metrics.status === 200
      ? keystoreBehindRow(parseKeyIdWrites(metrics.body), secrets)
      : undefined;
  if (behind) rows.push(behind);
  return rows;
}

/** The root marker Lease of an HA root-key rotation, when there is one (instances.ts, rootMarkerRows). */
async function markerRows(
  fetch: (path: string) => Promise<KubeResponse | string>,
  namespace: string,
): Promise<CheckRow[]> {
  const r = await fetch(
    `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${ROOT_MARKER_LEASE}`,
  );
  if (typeof r === 'string' || r.status !== 200) return [];
  try {
    return rootMarkerRows((JSON.parse(r.body) as HeartbeatLeaseLike).metadata.annotations);
  } catch {
    return [];
  }
}

/** Lists the KmsStateRecords and checks that a root key holder wrote each (state-records-check.ts). */
async function sharedRecordsRow(
  fetch: (path: string) => Promise<KubeResponse | string>,
  namespace: string,
  rootKey: RootKey | undefined,
): Promise<CheckRow> {
  if (rootKey === undefined) return row('shared records', 'skip', 'needs the root key');
  const path = `/apis/${STATE_GROUP_VERSION}/namespaces/${encodeURIComponent(namespace)}/${STATE_RESOURCE}`;
  const r = await fetch(path);
  if (typeof r === 'string') return row('shared records', 'FAIL', `listing KmsStateRecords: ${r}`);
  if (r.status !== 200) return row('shared records', 'FAIL', `GET ${path}: HTTP ${r.status}`);
  try {
    const items = (JSON.parse(r.body) as { items?: KmsStateRecord[] }).items ?? [];
    return await stateRecordsRow(items, rootKey, namespace);
  } catch (e) {
    return row('shared records', 'FAIL', `checking KmsStateRecords: ${message(e)}`);
  }
}

async function encryptionConfigRows(file: string, kmsSocket: string): Promise<CheckRow[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return [
      row(
        'encryption config',
        'FAIL',
        code === 'ENOENT'
          ? `${file}: no such file (--encryption-config)`
          : `${file}: cannot read it: ${message(e)}`,
      ),
    ];
  }
  try {
    return analyzeEncryptionConfig(
      parseEncryptionConfig(text, file),
      kmsSocket === '' ? '' : resolve(kmsSocket),
    );
  } catch (e) {
    if (e instanceof EncryptionConfigError) return [row('encryption config', 'FAIL', e.message)];
    throw e;
  }
}
