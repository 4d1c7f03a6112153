// Retired key versions: retirement, the use log, the retiredVersions policy (reversible), and destruction only
// after a waiting period that can be cancelled.
import { beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from './core.ts';
import { decrypt, encrypt } from './ops-encrypt.ts';
import { createKey } from './ops-keys.ts';
import { openForPlugin, sealForPlugin } from './ops-kmsv2.ts';
import { runMaintenance } from './ops-maintenance.ts';
import {
  cancelVersionDestruction,
  retireVersionsBelow,
  scheduleVersionDestruction,
  setRetiredVersionsPolicy,
  versionStates,
} from './ops-retirement.ts';
import { rotateKey } from './ops-rotation.ts';
import { SYSTEM } from './policy.ts';
import type { RetiredUse } from './retired-uses.ts';
import { kmsError, ManualClock, MemoryKeyStore, TestRootKey } from './testing.ts';

const sys = { caller: SYSTEM };
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let clock: ManualClock;
let store: MemoryKeyStore;
let rootKey: TestRootKey;
let core: EngineCore;
let keyId: string;
let uses: RetiredUse[];

const open = async () => {
  core = await EngineCore.open({ crypto: nodeCrypto, rootKey, store, clock });
  uses = [];
  core.retiredUses.onUse((u) => uses.push(u));
};

beforeEach(async () => {
  clock = new ManualClock();
  store = new MemoryKeyStore();
  rootKey = new TestRootKey(nodeCrypto);
  await open();
  keyId = (await createKey(core, sys, {})).keyId;
});

const seed = new Uint8Array(32).fill(7);

describe('retiring versions', () => {
  it('retires only versions below the primary, once; they still decrypt and every use is reported', async () => {
    const old = sealForPlugin(core, keyId, seed).ciphertext;
    const oldAws = encrypt(core, sys, { keyId, plaintext: seed }).ciphertextBlob;
    await rotateKey(core, keyId, 'ON_DEMAND');
    expect(await retireVersionsBelow(core, keyId, 2)).toEqual([1]);
    expect(await retireVersionsBelow(core, keyId, 2)).toEqual([]);
    expect(await retireVersionsBelow(core, keyId, 5)).toEqual([]); // never the primary (2)
    expect(versionStates(core, core.findKey(keyId)!)).toEqual([
      { version: 1, state: 'Retired' },
      { version: 2, state: 'Primary' },
    ]);
    const fresh = sealForPlugin(core, keyId, seed).ciphertext;
    expect(openForPlugin(core, fresh, keyId, 2, false)).toEqual(seed);
    expect(uses).toEqual([]); // the primary version is not a retired use
    expect(openForPlugin(core, old, keyId, 1, false)).toEqual(seed);
    expect(decrypt(core, sys, { ciphertextBlob: oldAws }).plaintext.unsafeBytes()).toEqual(seed);
    expect(uses).toEqual([
      { keyId, version: 1, keyManager: 'CUSTOMER', at: clock.now() },
      { keyId, version: 1, keyManager: 'CUSTOMER', at: clock.now() },
    ]);
    // A forged blob naming the retired version does not open, and is no use of it.
    const forged = Uint8Array.from(old);
    forged[forged.length - 1]! ^= 1;
    expect(kmsError(() => openForPlugin(core, forged, keyId, 1, false)).code).toBe(
      'InvalidCiphertextException',
    );
    expect(uses).toHaveLength(2);
  });

  it('refuses decrypt once the policy period passed with no use; a use restarts it; editing the policy reverses it', async () => {
    const old = sealForPlugin(core, keyId, seed).ciphertext;
    await rotateKey(core, keyId, 'ON_DEMAND');
    await retireVersionsBelow(core, keyId, 2);
    expect(await setRetiredVersionsPolicy(core, keyId, { disableDecryptAfterMs: 7 * DAY })).toBe(true);
    clock.advanceDays(6);
    expect(openForPlugin(core, old, keyId, 1, false)).toEqual(seed); // a use on day 6
    clock.advanceDays(6.9);
    expect(openForPlugin(core, old, keyId, 1, false)).toEqual(seed); // 6.9 days after that use: allowed
    clock.advanceDays(7);
    expect(kmsError(() => openForPlugin(core, old, keyId, 1, false))).toMatchObject({
      code: 'DisabledException',
    });
    expect(uses.at(-1)).toMatchObject({ version: 1, refused: 'DecryptDisabled' });
    expect(versionStates(core, core.findKey(keyId)!)[0]).toEqual({ version: 1, state: 'DecryptDisabled' });
    // A refused attempt is not a use: still refused a moment later.
    clock.t += 1000;
    expect(kmsError(() => openForPlugin(core, old, keyId, 1, false)).code).toBe('DisabledException');
    // Reversible: a longer period, or no policy, lets it decrypt again.
    await setRetiredVersionsPolicy(core, keyId, { disableDecryptAfterMs: 30 * DAY });
    expect(openForPlugin(core, old, keyId, 1, false)).toEqual(seed);
    await setRetiredVersionsPolicy(core, keyId, undefined);
    expect(core.findKey(keyId)!.retiredVersions).toBeUndefined();
    expect(openForPlugin(core, old, keyId, 1, false)).toEqual(seed);
  });

  it('keeps the last use across a restart (maintenance writes it into the record)', async () => {
    const old = sealForPlugin(core, keyId, seed).ciphertext;
    await rotateKey(core, keyId, 'ON_DEMAND');
    await retireVersionsBelow(core, keyId, 2);
    await setRetiredVersionsPolicy(core, keyId, { disableDecryptAfterMs: 7 * DAY });
    clock.advanceDays(5);
    openForPlugin(core, old, keyId, 1, false);
    await runMaintenance(core);
    expect(core.findKey(keyId)!.versions[0]!.lastUsedAt).toBe(clock.now());
    await open();
    clock.advanceDays(5); // 10 days after retirement, 5 after the last use
    expect(openForPlugin(core, old, keyId, 1, false)).toEqual(seed);
  });
});

describe('destroying a retired version', () => {
  it('only a retired version, with a 7–30 day waiting period naming the field', async () => {
    await rotateKey(core, keyId, 'ON_DEMAND');
    expect((await kmsErrorAsync(scheduleVersionDestruction(core, keyId, 1, 7))).code).toBe(
      'KMSInvalidStateException',
    );
    expect((await kmsErrorAsync(scheduleVersionDestruction(core, keyId, 2, 7))).code).toBe(
      'KMSInvalidStateException',
    );
    await retireVersionsBelow(core, keyId, 2);
    const e = await kmsErrorAsync(scheduleVersionDestruction(core, keyId, 1, 3));
    expect(e).toMatchObject({ code: 'ValidationException' });
    expect(e.message).toMatch(/pendingWindowDays/);
    expect((await kmsErrorAsync(scheduleVersionDestruction(core, keyId, 9, 7))).code).toBe(
      'NotFoundException',
    );
  });

  it('refuses the version during the waiting period, cancel restores it, and after it the version is gone for good', async () => {
    const old = sealForPlugin(core, keyId, seed).ciphertext;
    await rotateKey(core, keyId, 'ON_DEMAND');
    await retireVersionsBelow(core, keyId, 2);
    const at = await scheduleVersionDestruction(core, keyId, 1, 7);
    expect(at).toBe(clock.now() + 7 * DAY);
    expect(await scheduleVersionDestruction(core, keyId, 1, 30)).toBe(at); // already scheduled: unchanged
    expect(kmsError(() => openForPlugin(core, old, keyId, 1, false)).code).toBe('KMSInvalidStateException');
    expect(versionStates(core, core.findKey(keyId)!)[0]!.state).toBe('PendingDestruction');
    expect(await cancelVersionDestruction(core, keyId, 1)).toBe(true);
    expect(openForPlugin(core, old, keyId, 1, false)).toEqual(seed);
    await scheduleVersionDestruction(core, keyId, 1, 7);
    clock.advanceDays(6.9);
    expect((await runMaintenance(core)).destroyedVersions).toEqual([]);
    clock.advanceDays(0.2);
    expect((await runMaintenance(core)).destroyedVersions).toEqual([{ keyId, version: 1 }]);
    expect(core.findKey(keyId)!.versions.map((v) => v.version)).toEqual([2]);
    expect(core.holdsVersion(keyId, 1)).toBe(false);
    expect(kmsError(() => openForPlugin(core, old, keyId, 1, false)).code).toBe('InvalidCiphertextException');
    await open();
    expect(core.findKey(keyId)!.versions.map((v) => v.version)).toEqual([2]);
    await rotateKey(core, keyId, 'ON_DEMAND');
    expect(core.findKey(keyId)!.primaryVersion).toBe(3); // a number is never reused
  });
});

async function kmsErrorAsync(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('expected a rejection');
}
