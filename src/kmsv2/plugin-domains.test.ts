// Tests that KMS v2 and AWS API ciphertexts are separate domains (issue 16 item 2), through the plugin itself.
import { beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { decrypt, encrypt } from '../engine/ops-encrypt.ts';
import { createKey } from '../engine/ops-keys.ts';
import { ensureClusterKey, SECRETS_KEY_ALIAS } from '../engine/ops-maintenance.ts';
import { rotateKeyOnDemand } from '../engine/ops-rotation.ts';
import { SYSTEM } from '../engine/policy.ts';
import { kmsError, MemoryKeyStore, principal, TestRootKey } from '../engine/testing.ts';
import { KmsV2Plugin } from './plugin.ts';

const SECRETS = SECRETS_KEY_ALIAS;
const sys = { caller: SYSTEM };
const admin = principal('root', { admin: true });
const seed = () => nodeCrypto.randomBytes(32);

let core: EngineCore;
let clusterKey: string;
let customerKey: string;

beforeEach(async () => {
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
  });
  clusterKey = await ensureClusterKey(core, SECRETS, 'Secrets');
  customerKey = (await createKey(core, sys, {})).keyId;
});

describe('KMS v2 and AWS API ciphertexts are separate domains', () => {
  it('a blob the plugin made never opens in the AWS API, for any principal', () => {
    for (const secretsKey of [SECRETS, customerKey]) {
      const plugin = new KmsV2Plugin({ core, secretsKey });
      const enc = plugin.encrypt(seed());
      expect(kmsError(() => decrypt(core, admin, { ciphertextBlob: enc.ciphertext })).message).toBe(
        'invalid ciphertext',
      );
      expect(kmsError(() => decrypt(core, sys, { ciphertextBlob: enc.ciphertext })).code).toBe(
        'InvalidCiphertextException',
      );
    }
  });

  it('a blob the AWS API made never opens in the plugin, even under a customer key used both ways', () => {
    // The plugin wrapped seeds under the customer key, then --secrets-key moved back to the cluster key: the
    // customer key's key_ids stay decryptable, while the AWS API keeps using the key.
    const before = new KmsV2Plugin({ core, secretsKey: customerKey }).encrypt(seed());
    const plugin = new KmsV2Plugin({ core, secretsKey: SECRETS });
    const pt = seed();
    const aws = encrypt(core, admin, { keyId: customerKey, plaintext: pt }).ciphertextBlob;
    expect(plugin.decrypt(before.ciphertext, before.keyId, {}, 'uid')).toHaveLength(32);
    expect(before.keyId).toBe(`kubekms:${customerKey}:v1`);
    expect(kmsError(() => plugin.decrypt(aws, before.keyId, {}, 'uid')).message).toBe('invalid ciphertext');
  });

  it('a blob the plugin wrote before format 2 still opens, under the Secrets key and after a rotation', async () => {
    // What the plugin wrote before format 2: an engine Encrypt as SYSTEM under the empty context (format 1).
    const pt = seed();
    const old = encrypt(core, sys, { keyId: clusterKey, plaintext: pt }).ciphertextBlob;
    const plugin = new KmsV2Plugin({ core, secretsKey: SECRETS });
    expect(plugin.decrypt(old, `kubekms:${clusterKey}:v1`, {}, 'uid')).toEqual(pt);
    await rotateKeyOnDemand(core, sys, clusterKey);
    expect(plugin.currentKeyId()).toBe(`kubekms:${clusterKey}:v2`);
    expect(plugin.decrypt(old, `kubekms:${clusterKey}:v1`, {}, 'uid')).toEqual(pt);
    // Still the cluster-managed key's after --secrets-key names another key.
    const moved = new KmsV2Plugin({ core, secretsKey: customerKey });
    expect(moved.decrypt(old, `kubekms:${clusterKey}:v1`, {}, 'uid')).toEqual(pt);
    // New seeds are format 2.
    expect(plugin.encrypt(seed()).ciphertext[0]).toBe(2);
  });
});
