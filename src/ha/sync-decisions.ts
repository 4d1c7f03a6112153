/**
 * Pure decisions of the shared-state sync (docs/adr/0009-shared-key-state.md): what a batch of records seen in the
 * API changes locally, and what local records must be published back. No I/O; tested with tables.
 */

import type { DecodedRecord } from '../api/state-records.ts';
import type { AliasRecord, GrantRecord, KeyRecord, StoreChange } from '../engine/records.ts';

/** What the sync asks of the local engine (EngineCore answers it). */
export interface LocalView {
  findKey(keyId: string): KeyRecord | undefined;
  findAlias(aliasName: string): AliasRecord | undefined;
  findGrant(grantId: string): GrantRecord | undefined;
  allKeys(): readonly KeyRecord[];
  allAliases(): readonly AliasRecord[];
  allGrants(): readonly GrantRecord[];
}

export interface RemoteEvent {
  readonly type: 'put' | 'delete';
  readonly record: DecodedRecord;
}

export interface SyncPlan {
  /** What to take into the local engine and cache. */
  readonly absorb: StoreChange;
  /** Local records the API lacks and must get back (a key is never forgotten because it is absent). */
  readonly republish: readonly DecodedRecord[];
  /** Why something seen was not applied, for the log. */
  readonly notes: readonly string[];
  /**
   * Initial list only: keys the API holds at a lower revision than the local cache. The cache is written after the
   * API and only from it, so it is never ahead of the API: this says the records were rolled back (restored from
   * an older backup, or older objects put back; docs/adr/0022-rollback-detection.md). Not judged on watch events,
   * where an event older than this instance's own newer write can still be in flight.
   */
  readonly behind: readonly { readonly keyId: string; readonly api: number; readonly local: number }[];
}

interface Builder {
  putKeys: KeyRecord[];
  deleteKeys: string[];
  putAliases: AliasRecord[];
  deleteAliases: string[];
  putGrants: GrantRecord[];
  deleteGrants: string[];
  republish: DecodedRecord[];
  notes: string[];
  behind: { keyId: string; api: number; local: number }[];
}

const builder = (): Builder => ({
  putKeys: [],
  deleteKeys: [],
  putAliases: [],
  deleteAliases: [],
  putGrants: [],
  deleteGrants: [],
  republish: [],
  notes: [],
  behind: [],
});

function finish(b: Builder, initial: boolean): SyncPlan {
  const absorb: Record<string, readonly unknown[]> = {};
  for (const k of [
    'putKeys',
    'deleteKeys',
    'putAliases',
    'deleteAliases',
    'putGrants',
    'deleteGrants',
  ] as const) {
    if (b[k].length > 0) absorb[k] = b[k];
  }
  return {
    absorb: absorb as StoreChange,
    republish: b.republish,
    notes: b.notes,
    behind: initial ? b.behind : [],
  };
}

const sameAlias = (a: AliasRecord, b: AliasRecord): boolean =>
  a.targetKeyId === b.targetKeyId && a.updatedAt === b.updatedAt && a.createdAt === b.createdAt;
const sameGrant = (a: GrantRecord, b: GrantRecord): boolean => JSON.stringify(a) === JSON.stringify(b);

function decide(local: LocalView, e: RemoteEvent, b: Builder): void {
  const d = e.record;
  switch (d.kind) {
    case 'Key': {
      const mine = local.findKey(d.record.keyId);
      if (e.type === 'put') {
        if (!mine || d.record.revision > mine.revision) b.putKeys.push(d.record);
        else if (d.record.revision < mine.revision) {
          b.notes.push(
            `key ${d.record.keyId}: API holds revision ${d.record.revision}, local ${mine.revision}`,
          );
          b.behind.push({ keyId: mine.keyId, api: d.record.revision, local: mine.revision });
        }
      } else if (mine) {
        if (mine.state === 'PendingDeletion') b.deleteKeys.push(mine.keyId);
        else {
          b.republish.push({ kind: 'Key', record: mine });
          b.notes.push(
            `key ${mine.keyId}: deleted from the API while ${mine.state}; kept and published again`,
          );
        }
      }
      return;
    }
    case 'Alias': {
      const mine = local.findAlias(d.record.aliasName);
      if (e.type === 'put') {
        if (!mine || !sameAlias(mine, d.record)) b.putAliases.push(d.record);
      } else if (mine) b.deleteAliases.push(mine.aliasName);
      return;
    }
    case 'Grant': {
      const mine = local.findGrant(d.record.grantId);
      if (e.type === 'put') {
        if (!mine || !sameGrant(mine, d.record)) b.putGrants.push(d.record);
      } else if (mine) b.deleteGrants.push(mine.grantId);
      return;
    }
  }
}

/** Watch events, at most one per object (the latest). */
export function planEvents(local: LocalView, events: readonly RemoteEvent[]): SyncPlan {
  const b = builder();
  for (const e of events) decide(local, e, b);
  return finish(b, false);
}

/**
 * The first complete list after start. Everything listed is taken as in planEvents. Local keys the API lacks are
 * published again, except a key past its deletion date (destroyed while this instance was away). Local aliases
 * and grants the API lacks were deleted meanwhile, unless the API holds nothing at all: then this instance is the
 * first of the cluster to share its state, and publishes all of it.
 */
export function planInitial(local: LocalView, remote: readonly DecodedRecord[], now: number): SyncPlan {
  const b = builder();
  for (const record of remote) decide(local, { type: 'put', record }, b);
  const seen = { Key: new Set<string>(), Alias: new Set<string>(), Grant: new Set<string>() };
  for (const d of remote) {
    seen[d.kind].add(
      d.kind === 'Key' ? d.record.keyId : d.kind === 'Alias' ? d.record.aliasName : d.record.grantId,
    );
  }
  const seed = remote.length === 0;
  for (const record of local.allKeys()) {
    if (seen.Key.has(record.keyId)) continue;
    if (
      record.state === 'PendingDeletion' &&
      record.deletionDate !== undefined &&
      record.deletionDate <= now
    ) {
      b.deleteKeys.push(record.keyId);
    } else {
      b.republish.push({ kind: 'Key', record });
      if (!seed) b.notes.push(`key ${record.keyId}: missing from the API; published again`);
    }
  }
  for (const a of local.allAliases()) {
    if (seen.Alias.has(a.aliasName)) continue;
    if (seed) b.republish.push({ kind: 'Alias', record: a });
    else b.deleteAliases.push(a.aliasName);
  }
  for (const g of local.allGrants()) {
    if (seen.Grant.has(g.grantId)) continue;
    if (seed) b.republish.push({ kind: 'Grant', record: g });
    else b.deleteGrants.push(g.grantId);
  }
  return finish(b, true);
}
