// Every decrypt under a retired version is counted with bounded labels and leaves one audit line naming the
// key and version, and nothing else.
import { Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { createKey } from '../engine/ops-keys.ts';
import { openForPlugin, sealForPlugin } from '../engine/ops-kmsv2.ts';
import { retireVersionsBelow, setRetiredVersionsPolicy } from '../engine/ops-retirement.ts';
import { rotateKey } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import { kmsError, ManualClock, MemoryKeyStore, TestRootKey } from '../engine/testing.ts';
import { createLogger } from './logger.ts';
import { reportRetiredUses } from './retired-uses.ts';

describe('retired version decrypts', () => {
  it('are counted (allowed and refused) and audited, without key ids in labels or plaintext in lines', async () => {
    const clock = new ManualClock();
    const core = await EngineCore.open({
      crypto: nodeCrypto,
      rootKey: new TestRootKey(nodeCrypto),
      store: new MemoryKeyStore(),
      clock,
    });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    });
    const registry = new Registry();
    reportRetiredUses(core, registry, createLogger('info', sink));
    const keyId = (await createKey(core, { caller: SYSTEM }, {})).keyId;
    const seed = new Uint8Array(32).fill(9);
    const old = sealForPlugin(core, keyId, seed).ciphertext;
    await rotateKey(core, keyId, 'ON_DEMAND');
    await retireVersionsBelow(core, keyId, 2);
    openForPlugin(core, old, keyId, 1, false);
    openForPlugin(core, old, keyId, 1, false);
    await setRetiredVersionsPolicy(core, keyId, { disableDecryptAfterMs: 1000 });
    clock.t += 2000;
    kmsError(() => openForPlugin(core, old, keyId, 1, false));
    const text = await registry.metrics();
    expect(text).toContain(
      'kubekms_retired_version_decrypts_total{key_manager="CUSTOMER",result="allowed"} 2',
    );
    expect(text).toContain(
      'kubekms_retired_version_decrypts_total{key_manager="CUSTOMER",result="DecryptDisabled"} 1',
    );
    expect(text).not.toContain(keyId);
    const audit = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(audit).toHaveLength(3);
    expect(audit[2]).toMatchObject({
      event: 'RetiredVersionUsed',
      keyId,
      version: 1,
      result: 'DecryptDisabled',
    });
    expect(lines.join('')).not.toContain(Buffer.from(seed).toString('base64'));
  });
});
