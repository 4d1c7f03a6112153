/**
 * The per-instance heartbeat Lease (docs/adr/0009-shared-key-state.md): its name, labels and annotations, and the
 * pure functions that read it. Written by heartbeat.ts, read by the rotation gate and by `kubekms doctor`.
 */

export const INSTANCE_LABEL = 'kubekms.io/role';
export const INSTANCE_LABEL_VALUE = 'instance';
export const HELD_VERSIONS_ANNOTATION = 'kubekms.io/held-versions';
export const KEY_ID_ANNOTATION = 'kubekms.io/key-id';
/** Which root of trust the instance holds: `<kind>:<fingerprint>` (RootKey.identity), e.g. `file:3f2a9c0e5b7d1486`. */
export const ROOT_KEY_ANNOTATION = 'kubekms.io/root-key';
/** The root key the instance holds staged for a root-key rotation (docs/adr/0026), `<kind>:<fingerprint>`. */
export const NEXT_ROOT_KEY_ANNOTATION = 'kubekms.io/next-root-key';
/**
 * The root marker (docs/adr/0026): a Lease without the instance label whose ROOT_KEY_ANNOTATION names the root key
 * the cluster's records move to. Written by the instance that runs phase 2 of a root-key rotation; every instance
 * that holds that root staged switches to it.
 */
export const ROOT_MARKER_LEASE = 'kubekms-root-key';
/** On the root marker: `moving` while records move, `done` once every record is under the marker's root. */
export const ROOT_ROTATION_ANNOTATION = 'kubekms.io/root-rotation';
export const HEARTBEAT_PERIOD_MS = 10_000;
export const HEARTBEAT_DURATION_SECONDS = 30;

/** Key id → the highest version this instance holds (can decrypt with). */
export type HeldVersions = Readonly<Record<string, number>>;

export function heartbeatLeaseName(instance: string): string {
  return `kubekms-instance-${instance}`;
}

/** What a heartbeat Lease says, once read. */
export interface InstanceHeartbeat {
  readonly instance: string;
  readonly renewedAt: number | undefined;
  readonly durationMs: number;
  readonly held: HeldVersions;
  /** The key_id the instance's KMS v2 plugin reports ('' when it serves no plugin). */
  readonly keyId: string;
  /** The root of trust it holds, `<kind>:<fingerprint>` ('' when its heartbeat does not say). */
  readonly rootKey: string;
  /** The root key it holds staged for a rotation ('' when none). */
  readonly nextRootKey: string;
}

export interface HeartbeatLeaseLike {
  readonly metadata: { readonly name: string; readonly annotations?: Readonly<Record<string, string>> };
  readonly spec: {
    readonly holderIdentity?: string;
    readonly leaseDurationSeconds?: number;
    readonly renewTime?: string;
  };
}

export function encodeHeldVersions(held: HeldVersions): string {
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(held).sort()) sorted[k] = held[k] as number;
  return JSON.stringify(sorted);
}

/** Lenient on purpose: a malformed annotation reads as "holds nothing", which only delays a promotion. */
export function decodeHeldVersions(value: string | undefined): HeldVersions {
  if (!value) return {};
  try {
    const v: unknown = JSON.parse(value);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return {};
    const out: Record<string, number> = {};
    for (const [k, n] of Object.entries(v))
      if (Number.isSafeInteger(n) && (n as number) > 0) out[k] = n as number;
    return out;
  } catch {
    return {};
  }
}

export function readHeartbeat(lease: HeartbeatLeaseLike): InstanceHeartbeat {
  const a = lease.metadata.annotations ?? {};
  const renew = lease.spec.renewTime ? Date.parse(lease.spec.renewTime) : Number.NaN;
  return {
    instance: lease.spec.holderIdentity ?? lease.metadata.name.replace(/^kubekms-instance-/, ''),
    renewedAt: Number.isFinite(renew) ? renew : undefined,
    durationMs: (lease.spec.leaseDurationSeconds ?? HEARTBEAT_DURATION_SECONDS) * 1000,
    held: decodeHeldVersions(a[HELD_VERSIONS_ANNOTATION]),
    keyId: a[KEY_ID_ANNOTATION] ?? '',
    rootKey: a[ROOT_KEY_ANNOTATION] ?? '',
    nextRootKey: a[NEXT_ROOT_KEY_ANNOTATION] ?? '',
  };
}

export function isLive(h: InstanceHeartbeat, now: number): boolean {
  return h.renewedAt !== undefined && now < h.renewedAt + h.durationMs;
}

/** True when every live instance holds `version` of `keyId` (vacuously true with no live instance). */
export function allLiveHold(
  heartbeats: readonly InstanceHeartbeat[],
  keyId: string,
  version: number,
  now: number,
): boolean {
  return heartbeats.filter((h) => isLive(h, now)).every((h) => (h.held[keyId] ?? 0) >= version);
}

/**
 * The live instances that hold `root` neither as their current nor as their staged root key: a root-key rotation
 * to `root` must not move any record while one exists (docs/adr/0026).
 */
export function lackingRoot(
  heartbeats: readonly InstanceHeartbeat[],
  root: string,
  now: number,
): InstanceHeartbeat[] {
  return heartbeats.filter((h) => isLive(h, now) && h.rootKey !== root && h.nextRootKey !== root);
}

/** The live instances whose current root key is not `root` yet. */
export function notSwitched(
  heartbeats: readonly InstanceHeartbeat[],
  root: string,
  now: number,
): InstanceHeartbeat[] {
  return heartbeats.filter((h) => isLive(h, now) && h.rootKey !== root);
}
