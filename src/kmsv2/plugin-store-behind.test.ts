/**
 * Rollback detection on the KMS v2 Decrypt path (docs/adr/0022-rollback-detection.md): a key_id naming a version
 * above the newest the keystore holds means the keystore is older than the data. It is refused saying so, reported
 * to the hook, counted and logged once per key_id by serve; a key not held at all (it may have been deleted) is
 * only refused.
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { storeBehindReporter } from '../cli/serve-plugin.ts';
import { createKey } from '../engine/ops-keys.ts';
import { runMaintenance } from '../engine/ops-maintenance.ts';
import { enableKeyRotation, rotateKey } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import { ManualClock } from '../engine/testing.ts';
import { createLogger } from '../observability/logger.ts';
import { createMetrics } from '../observability/metrics.ts';
import { KmsV2Plugin, type StoreBehind } from './plugin.ts';
import { staleInstance } from './testing/stale-instance.ts';

describe('KMS v2 Decrypt under a key version the keystore does not hold', () => {
  it('is refused naming the newest version held and reported; held versions and junk key_ids are not', async () => {
    const { source, stale, keyId } = await staleInstance();
    const newer = new KmsV2Plugin({ core: source, secretsKey: keyId }).encrypt(
      new TextEncoder().encode('seed'),
    );
    expect(newer.keyId).toBe(`kubekms:${keyId}:v2`);
    const seen: StoreBehind[] = [];
    const older = new KmsV2Plugin({ core: stale, secretsKey: keyId, onStoreBehind: (w) => seen.push(w) });
    expect(() => older.decrypt(newer.ciphertext, newer.keyId, {}, 'u1')).toThrow(
      `key_id: "${newer.keyId}": this keystore's newest version of that key is v1; the keystore is older than the data`,
    );
    expect(seen).toEqual([{ keyId: newer.keyId, keyUuid: keyId, version: 2, newestHeld: 1 }]);

    // A key it does not hold may have been deleted: said, not reported as a rollback.
    const foreign = `kubekms:${randomUUID()}:v3`;
    expect(() => older.decrypt(newer.ciphertext, foreign, {}, 'u2')).toThrow(
      /does not hold that key \(deleted, a keystore older than the data, or data that is not this cluster's\)/,
    );

    expect(() => older.decrypt(newer.ciphertext, 'not-ours', {}, 'u3')).toThrow(
      /is not a key_id this plugin issued/,
    );
    const own = older.encrypt(new TextEncoder().encode('seed'));
    expect(new TextDecoder().decode(older.decrypt(own.ciphertext, own.keyId, {}, 'u4'))).toBe('seed');
    expect(seen).toHaveLength(1);
  });

  it('then refuses to rotate that key (the rotation would issue v2 again for new material); other keys rotate', async () => {
    const { source, stale, keyId } = await staleInstance();
    await rotateKey(source, keyId, 'ON_DEMAND');
    const v3 = new KmsV2Plugin({ core: source, secretsKey: keyId }).encrypt(new TextEncoder().encode('seed'));
    expect(v3.keyId).toBe(`kubekms:${keyId}:v3`);
    const older = new KmsV2Plugin({ core: stale, secretsKey: keyId });
    await expect(rotateKey(stale, keyId, 'ON_DEMAND')).resolves.toMatchObject({ primaryVersion: 2 });
    expect(() => older.decrypt(v3.ciphertext, v3.keyId, {}, 'u1')).toThrow(
      /newest version of that key is v2/,
    );
    await expect(rotateKey(stale, keyId, 'ON_DEMAND')).rejects.toThrow(
      /data encrypted under version 3 of this key was seen, but this keystore's newest version is 2: the keystore is older than the data .* would issue version 3 again/,
    );
    expect(stale.findKey(keyId)!.versions).toHaveLength(2);
    const other = await createKey(stale, { caller: SYSTEM }, {});
    await expect(rotateKey(stale, other.keyId, 'ON_DEMAND')).resolves.toMatchObject({ primaryVersion: 2 });
  });

  it('maintenance holds back a due automatic rotation of that key and still rotates the others', async () => {
    const clock = new ManualClock();
    const { source, stale, keyId } = await staleInstance(clock);
    const v2 = new KmsV2Plugin({ core: source, secretsKey: keyId }).encrypt(new TextEncoder().encode('seed'));
    expect(() =>
      new KmsV2Plugin({ core: stale, secretsKey: keyId }).decrypt(v2.ciphertext, v2.keyId, {}, 'u'),
    ).toThrow();
    const other = await createKey(stale, { caller: SYSTEM }, {});
    for (const id of [keyId, other.keyId]) await enableKeyRotation(stale, { caller: SYSTEM }, id, 90);
    clock.advanceDays(91);
    const report = await runMaintenance(stale);
    expect(report).toMatchObject({ rotated: [other.keyId], heldBack: [keyId] });
    expect(stale.findKey(keyId)!.versions).toHaveLength(1);
  });

  it('HA: judged only once the shared state answered without the version, not while it is unreachable', async () => {
    const { source, stale, keyId } = await staleInstance();
    const v2 = new KmsV2Plugin({ core: source, secretsKey: keyId }).encrypt(new TextEncoder().encode('seed'));
    const seen: StoreBehind[] = [];
    let reachable = false;
    const ha = new KmsV2Plugin({
      core: stale,
      secretsKey: keyId,
      onStoreBehind: (w) => seen.push(w),
      fetchVersion: async () => {
        if (!reachable) throw new Error('connect ECONNREFUSED');
      },
    });
    await ha.fetchMissing(v2.keyId);
    expect(() => ha.decrypt(v2.ciphertext, v2.keyId, {}, 'u1')).toThrow(
      /does not hold that version yet and could not fetch it from the shared state/,
    );
    expect(seen).toEqual([]);
    await expect(rotateKey(stale, keyId, 'ON_DEMAND')).resolves.toMatchObject({ primaryVersion: 2 });
    reachable = true; // the API answers, and has no newer version than this one
    const v3 = new KmsV2Plugin({ core: source, secretsKey: keyId });
    await rotateKey(source, keyId, 'ON_DEMAND');
    const c3 = v3.encrypt(new TextEncoder().encode('seed'));
    await ha.fetchMissing(c3.keyId);
    expect(() => ha.decrypt(c3.ciphertext, c3.keyId, {}, 'u2')).toThrow(
      /the keystore is older than the data/,
    );
    expect(seen).toMatchObject([{ version: 3, newestHeld: 2 }]);
  });

  it('serve counts every one and logs each key_id once, by hash, at error level', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const metrics = createMetrics({ processMetrics: false });
    const report = storeBehindReporter(createLogger('info', sink), metrics);
    const w = { keyId: `kubekms:${randomUUID()}:v2`, keyUuid: 'k', version: 2, newestHeld: 1 };
    report(w);
    report(w);
    report({ ...w, keyId: `kubekms:${randomUUID()}:v5`, version: 5 });
    expect(lines).toHaveLength(2);
    const first = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(first).toMatchObject({ level: 'error', version: 2, newestHeld: 1 });
    expect(first.msg).toMatch(/rollback suspected: .* the keystore is older than the data in etcd/);
    expect(lines[0]).not.toContain(w.keyId);
    expect(await metrics.registry.getSingleMetricAsString('kubekms_kmsv2_store_behind_total')).toMatch(
      /kubekms_kmsv2_store_behind_total 3$/m,
    );
  });
});
