/**
 * Retired key versions (issue 18 part 3). Once a verified re-encryption left nothing under the versions below the
 * primary one, they are retired: they still decrypt, but every decrypt under them is reported (RetiredUseLog), and
 * the key's retiredVersions policy can refuse them once they went unused for long enough (reversible: the refusal
 * is computed from the policy on every decrypt, nothing is thrown away). Destroying a retired version is a separate,
 * explicit step with a waiting period during which it is refused and the destruction can be cancelled, as AWS
 * does for whole keys. These are kubekms's own operations (operator, CLI), not AWS API ones.
 */
import type { EngineCore } from './core.ts';
import { KmsError } from './errors.ts';
import { DAY_MS } from './keyset.ts';
import type { KeyRecord, KeyVersionRecord, RetiredVersionsPolicy } from './records.ts';
import type { RetiredRefusal, RetiredUse } from './retired-uses.ts';
import { LIMITS } from './specs.ts';
import { requireInt } from './validate.ts';

export type VersionState = 'Primary' | 'Staged' | 'Active' | RetiredState;
export type RetiredState = 'Retired' | RetiredRefusal;

/** Why a decrypt under retired version `v` is refused now, or undefined when it is allowed. */
export function retiredRefusal(
  r: KeyRecord,
  v: KeyVersionRecord,
  lastUseInMemory: number | undefined,
  now: number,
): RetiredRefusal | undefined {
  if (v.retiredAt === undefined) return undefined;
  if (v.destroyAt !== undefined) return 'PendingDestruction';
  const after = r.retiredVersions?.disableDecryptAfterMs;
  if (after === undefined) return undefined;
  const quietSince = Math.max(v.retiredAt, v.lastUsedAt ?? 0, lastUseInMemory ?? 0);
  return now >= quietSince + after ? 'DecryptDisabled' : undefined;
}

/** The state of every version of a key, for status and the CLI. */
export function versionStates(core: EngineCore, r: KeyRecord): { version: number; state: VersionState }[] {
  const now = core.clock.now();
  return r.versions.map((v) => {
    if (v.version === r.primaryVersion) return { version: v.version, state: 'Primary' as const };
    if (v.version > r.primaryVersion) return { version: v.version, state: 'Staged' as const };
    if (v.retiredAt === undefined) return { version: v.version, state: 'Active' as const };
    const refused = retiredRefusal(r, v, core.retiredUses.lastUse(r.keyId, v.version), now);
    return { version: v.version, state: refused ?? ('Retired' as const) };
  });
}

/**
 * The check every decrypt runs before opening a blob under `version` (invariant 5: state before crypto). Free for
 * the primary version. A refused retired version is reported to the RetiredUseLog and throws; an allowed one
 * returns the use, which the caller reports (`core.retiredUses.record`) once the blob has opened, so that only a
 * real decrypt counts as a use.
 */
export function checkDecryptVersion(core: EngineCore, r: KeyRecord, version: number): RetiredUse | undefined {
  if (version === r.primaryVersion) return undefined;
  const v = r.versions.find((x) => x.version === version);
  if (v?.retiredAt === undefined) return undefined;
  const now = core.clock.now();
  const use: RetiredUse = { keyId: r.keyId, version, keyManager: r.keyManager, at: now };
  const refused = retiredRefusal(r, v, core.retiredUses.lastUse(r.keyId, version), now);
  if (refused === undefined) return use;
  core.retiredUses.record({ ...use, refused });
  if (refused === 'PendingDestruction') {
    throw new KmsError(
      'KMSInvalidStateException',
      `${core.arnOf(r.keyId)} version ${version} is pending destruction.`,
    );
  }
  throw new KmsError(
    'DisabledException',
    `${core.arnOf(r.keyId)} version ${version} is retired and its decrypt is disabled by the retiredVersions policy.`,
  );
}

/** Replaces some versions of a key in one commit; `edit` returns undefined for a version it leaves alone. */
function editVersions(
  core: EngineCore,
  keyRef: unknown,
  edit: (r: KeyRecord, v: KeyVersionRecord) => KeyVersionRecord | undefined,
  check?: (r: KeyRecord) => void,
): Promise<{ record: KeyRecord; changed: number[] }> {
  return core.mutate(async () => {
    const r = core.resolve(keyRef).record;
    check?.(r);
    const changed: number[] = [];
    const versions = r.versions.map((v) => {
      const next = edit(r, v);
      if (next === undefined) return v;
      changed.push(v.version);
      return next;
    });
    if (changed.length === 0) return { change: {}, result: { record: r, changed } };
    const next: KeyRecord = { ...r, versions, revision: r.revision + 1 };
    return { change: { putKeys: [next] }, result: { record: next, changed } };
  });
}

/**
 * Retires every version below `below` that is not retired yet (after a verified re-encryption to `below`).
 * Returns the versions retired now; none when there was nothing left to retire.
 */
export async function retireVersionsBelow(
  core: EngineCore,
  keyRef: unknown,
  below: number,
): Promise<number[]> {
  const now = core.clock.now();
  const { changed } = await editVersions(core, keyRef, (r, v) =>
    v.version < below && v.version < r.primaryVersion && v.retiredAt === undefined
      ? { ...v, retiredAt: now }
      : undefined,
  );
  return changed;
}

/** Sets (or, with undefined, removes) a key's retiredVersions policy. Returns whether anything changed. */
export async function setRetiredVersionsPolicy(
  core: EngineCore,
  keyRef: unknown,
  policy: RetiredVersionsPolicy | undefined,
): Promise<boolean> {
  return core.mutate(async () => {
    const r = core.resolve(keyRef).record;
    const same = r.retiredVersions?.disableDecryptAfterMs === policy?.disableDecryptAfterMs;
    if (same) return { change: {}, result: false };
    const { retiredVersions: _old, ...rest } = r;
    const next: KeyRecord = {
      ...rest,
      ...(policy?.disableDecryptAfterMs !== undefined ? { retiredVersions: policy } : {}),
      revision: r.revision + 1,
    };
    return { change: { putKeys: [next] }, result: true };
  });
}

function requireRetired(core: EngineCore, r: KeyRecord, version: number): KeyVersionRecord {
  const v = r.versions.find((x) => x.version === version);
  if (!v) throw new KmsError('NotFoundException', `${core.arnOf(r.keyId)} has no version ${version}`);
  if (v.retiredAt === undefined) {
    throw new KmsError(
      'KMSInvalidStateException',
      `${core.arnOf(r.keyId)} version ${version} is not retired: only a retired version can be destroyed`,
    );
  }
  return v;
}

/**
 * Schedules the destruction of a retired version after `pendingWindowDays` (7–30, as AWS's key deletion window;
 * `minWindowDays` lowers the minimum for tests only). From now on the version refuses to decrypt; cancelling
 * restores it. Returns the epoch ms of destruction.
 */
export async function scheduleVersionDestruction(
  core: EngineCore,
  keyRef: unknown,
  version: number,
  pendingWindowDays: unknown,
  minWindowDays: number = LIMITS.pendingWindowMinDays,
): Promise<number> {
  const days = requireInt(pendingWindowDays, 'pendingWindowDays', minWindowDays, LIMITS.pendingWindowMaxDays);
  const at = core.clock.now() + days * DAY_MS;
  const { record } = await editVersions(
    core,
    keyRef,
    (_r, v) => (v.version === version && v.destroyAt === undefined ? { ...v, destroyAt: at } : undefined),
    (r) => requireRetired(core, r, version),
  );
  return record.versions.find((v) => v.version === version)?.destroyAt ?? at;
}

/** Cancels a scheduled destruction: the version is retired again, decrypting as its policy says. */
export async function cancelVersionDestruction(
  core: EngineCore,
  keyRef: unknown,
  version: number,
): Promise<boolean> {
  const { changed } = await editVersions(
    core,
    keyRef,
    (_r, v) => {
      if (v.version !== version || v.destroyAt === undefined) return undefined;
      const { destroyAt: _d, ...rest } = v;
      return rest;
    },
    (r) => requireRetired(core, r, version),
  );
  return changed.length > 0;
}

/** Maintenance: destroys the versions whose waiting period ended (record and material, for good). */
export async function destroyDueVersions(core: EngineCore): Promise<{ keyId: string; version: number }[]> {
  const now = core.clock.now();
  const out: { keyId: string; version: number }[] = [];
  for (const r of core.allKeys()) {
    const due = r.versions.filter((v) => v.destroyAt !== undefined && v.destroyAt <= now);
    if (due.length === 0) continue;
    await core.mutate(async () => {
      const cur = core.findKey(r.keyId);
      if (!cur) return { change: {}, result: undefined };
      const keep = cur.versions.filter((v) => v.destroyAt === undefined || v.destroyAt > now);
      if (keep.length === cur.versions.length) return { change: {}, result: undefined };
      for (const v of cur.versions) if (!keep.includes(v)) out.push({ keyId: r.keyId, version: v.version });
      return {
        change: { putKeys: [{ ...cur, versions: keep, revision: cur.revision + 1 }] },
        result: undefined,
      };
    });
  }
  return out;
}

/** Maintenance: writes the last use of retired versions seen in memory into their records (kept across restarts). */
export async function persistRetiredUses(core: EngineCore): Promise<number> {
  let written = 0;
  for (const use of core.retiredUses.entries()) {
    const { changed } = await editVersions(core, use.keyId, (_r, v) =>
      v.version === use.version && v.retiredAt !== undefined && (v.lastUsedAt ?? 0) < use.at
        ? { ...v, lastUsedAt: use.at }
        : undefined,
    ).catch(() => ({ changed: [] }));
    written += changed.length;
  }
  return written;
}
