/**
 * What kube-apiserver says about the key_id it writes with, and which API servers are live: the
 * `apiserver_envelope_encryption_key_id_hash_last_timestamp_seconds` series of its /metrics (k8s.io/apiserver
 * pkg/storage/value/encrypt/envelope/metrics: both labels are `sha256:` + the hex SHA-256 of the key_id and of the
 * API server's identity), and the identity Leases in kube-system (named by that identity, renewed every 10 s).
 * Parsing, hashing, the one GET of /metrics, and the heartbeat annotation that carries an instance's reading to
 * the leader under --shared-state.
 */
import { createHash } from 'node:crypto';
import type { KubeGet } from '../kube/raw-http.ts';

export const KEY_ID_HASH_METRIC = 'apiserver_envelope_encryption_key_id_hash_last_timestamp_seconds';
export const IDENTITY_LEASE_NAMESPACE = 'kube-system';
export const IDENTITY_LEASE_SELECTOR = 'apiserver.kubernetes.io/identity=kube-apiserver';
/** An identity Lease renewed within this window is a live API server (they renew every 10 s). */
export const IDENTITY_LIVE_MS = 60_000;
/** Heartbeat annotation: the writes this instance read from its own node's API server. */
export const KEY_ID_WRITES_ANNOTATION = 'kubekms.io/apiserver-key-id-writes';

/** The last time an API server wrote (`to_storage`) an object under a key_id. */
export interface KeyIdWrite {
  /** `sha256:<hex>` of the API server's identity (its identity Lease's name). */
  readonly apiserver: string;
  /** `sha256:<hex>` of the key_id. */
  readonly keyIdHash: string;
  /** Epoch milliseconds. */
  readonly at: number;
}

/** The label value kube-apiserver uses for a key_id or an API server identity. */
export function sha256Label(value: string): string {
  return `sha256:${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** The `to_storage` series of KEY_ID_HASH_METRIC in a Prometheus text exposition; other lines are ignored. */
export function parseKeyIdWrites(text: string): KeyIdWrite[] {
  const out: KeyIdWrite[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${KEY_ID_HASH_METRIC}{`)) continue;
    const close = line.lastIndexOf('}');
    if (close < 0) continue;
    const labels = new Map<string, string>();
    for (const m of line.slice(KEY_ID_HASH_METRIC.length + 1, close).matchAll(LABEL))
      labels.set(m[1] as string, m[2] as string);
    const seconds = Number(
      line
        .slice(close + 1)
        .trim()
        .split(/\s+/)[0],
    );
    const apiserver = labels.get('apiserver_id_hash');
    const keyIdHash = labels.get('key_id_hash');
    if (labels.get('transformation_type') !== 'to_storage' || !apiserver || !keyIdHash) continue;
    if (!Number.isFinite(seconds) || seconds <= 0) continue;
    out.push({ apiserver, keyIdHash, at: Math.round(seconds * 1000) });
  }
  return out;
}

export interface IdentityLeaseLike {
  readonly metadata: { readonly name: string };
  readonly spec: { readonly renewTime?: string };
}

/** The identity hashes of the API servers whose identity Lease was renewed within IDENTITY_LIVE_MS of `now`. */
export function liveApiservers(leases: readonly IdentityLeaseLike[], now: number): string[] {
  const live = new Set<string>();
  for (const l of leases) {
    const renewed = l.spec.renewTime ? Date.parse(l.spec.renewTime) : Number.NaN;
    if (Number.isFinite(renewed) && now - renewed <= IDENTITY_LIVE_MS) live.add(sha256Label(l.metadata.name));
  }
  return [...live].sort();
}

/** At most this many writes travel in one heartbeat annotation (the newest kept). */
const MAX_ENCODED = 32;

export function encodeKeyIdWrites(writes: readonly KeyIdWrite[]): string {
  const newest = [...writes].sort((a, b) => b.at - a.at).slice(0, MAX_ENCODED);
  return JSON.stringify(newest.map((w) => [w.apiserver, w.keyIdHash, w.at]));
}

/** Lenient on purpose: a malformed annotation reads as "saw nothing", which only leaves the fallback delay. */
export function decodeKeyIdWrites(value: string | undefined): KeyIdWrite[] {
  if (!value) return [];
  try {
    const v: unknown = JSON.parse(value);
    if (!Array.isArray(v)) return [];
    const out: KeyIdWrite[] = [];
    for (const e of v) {
      if (!Array.isArray(e) || e.length !== 3) continue;
      const [apiserver, keyIdHash, at] = e as unknown[];
      if (typeof apiserver === 'string' && typeof keyIdHash === 'string' && typeof at === 'number')
        out.push({ apiserver, keyIdHash, at });
    }
    return out;
  } catch {
    return [];
  }
}

const METRICS_TIMEOUT_MS = 10_000;

/** This node's API server's key_id writes (GET /metrics); throws with the status and the RBAC it needs. */
export async function readOwnWrites(get: KubeGet): Promise<KeyIdWrite[]> {
  const r = await get('/metrics', METRICS_TIMEOUT_MS);
  if (r.status === 401 || r.status === 403)
    throw new Error(`GET /metrics: ${r.status} (needs RBAC get on the nonResourceURL /metrics)`);
  if (r.status !== 200) throw new Error(`GET /metrics: ${r.status}`);
  return parseKeyIdWrites(r.body);
}

/** Every write the instances published in their heartbeat Leases (each names its API server). */
export function heartbeatWrites(
  leases: readonly { readonly metadata: { readonly annotations?: Readonly<Record<string, string>> } }[],
): KeyIdWrite[] {
  return leases.flatMap((l) => decodeKeyIdWrites(l.metadata.annotations?.[KEY_ID_WRITES_ANNOTATION]));
}
