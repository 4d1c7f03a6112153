/**
 * The engine on a real keystore with each root-of-trust provider (file, pkcs11 in SoftHSM2): keys of every
 * family are created (their material wrapped by the root key), used, rotated, and after a restart of store, root
 * key and engine still decrypt, verify and MAC the same way. A representative set of the engine suites; the full
 * ones run on TestRootKey, which is a stand-in for either provider.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from '../engine/core.ts';
import { KmsError } from '../engine/errors.ts';
import { generateDataKey } from '../engine/ops-datakey.ts';
import { decrypt, encrypt } from '../engine/ops-encrypt.ts';
import { createKey, disableKey } from '../engine/ops-keys.ts';
import { generateMac, verifyMac } from '../engine/ops-mac.ts';
import { rotateKeyOnDemand } from '../engine/ops-rotation.ts';
import { sign, verify } from '../engine/ops-sign.ts';
import { SYSTEM } from '../engine/policy.ts';
import { FileKeyStore } from '../keystore/file-keystore.ts';
import { ProviderFixtures, ROOT_KEY_PROVIDERS } from './testing/providers.ts';

const sys = { caller: SYSTEM };
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: { unsafeBytes(): Uint8Array }) => new TextDecoder().decode(b.unsafeBytes());

let fixtures: ProviderFixtures;
let dataDir: string;
const stores: FileKeyStore[] = [];
beforeAll(async () => {
  fixtures = await ProviderFixtures.create();
});
afterAll(async () => {
  await fixtures?.cleanup();
});
beforeEach(async () => {
  dataDir = await mkdtemp('/tmp/kubekms-hsm-engine-');
});
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe.each(ROOT_KEY_PROVIDERS)('engine with the %s root key', (name) => {
  async function start(): Promise<{ core: EngineCore; store: FileKeyStore }> {
    const rootKey = await fixtures.open(name);
    const store = new FileKeyStore({ dataDir, rootKey });
    stores.push(store);
    return { core: await EngineCore.open({ crypto: nodeCrypto, rootKey, store }), store };
  }

  it('creates, uses and rotates keys of every family, and a restart reads them all back', async () => {
    const first = await start();
    const { core } = first;
    const sym = (await createKey(core, sys, { description: 'sym' })).keyId;
    const ecc = (await createKey(core, sys, { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyId;
    const rsa = (await createKey(core, sys, { keySpec: 'RSA_2048', keyUsage: 'SIGN_VERIFY' })).keyId;
    const mac = (await createKey(core, sys, { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' })).keyId;
    const ec = { tenant: 'a' };
    const v1 = encrypt(core, sys, { keyId: sym, plaintext: bytes('under v1'), encryptionContext: ec });
    await rotateKeyOnDemand(core, sys, sym);
    const v2 = encrypt(core, sys, { keyId: sym, plaintext: bytes('under v2'), encryptionContext: ec });
    const dataKey = generateDataKey(core, sys, { keyId: sym, keySpec: 'AES_256' });
    const message = bytes('signed');
    const eccSig = sign(core, sys, { keyId: ecc, message, signingAlgorithm: 'ECDSA_SHA_256' }).signature;
    const rsaSig = sign(core, sys, { keyId: rsa, message, signingAlgorithm: 'RSASSA_PSS_SHA_256' }).signature;
    const tag = generateMac(core, sys, { keyId: mac, message, macAlgorithm: 'HMAC_SHA_256' }).mac;
    await disableKey(core, sys, rsa);
    await first.store.close();
    stores.splice(stores.indexOf(first.store), 1);

    const { core: again } = await start();
    expect(again.counts().keys).toBe(4);
    expect(
      text(decrypt(again, sys, { ciphertextBlob: v1.ciphertextBlob, encryptionContext: ec }).plaintext),
    ).toBe('under v1');
    expect(
      text(decrypt(again, sys, { ciphertextBlob: v2.ciphertextBlob, encryptionContext: ec }).plaintext),
    ).toBe('under v2');
    const dk = decrypt(again, sys, { ciphertextBlob: dataKey.ciphertextBlob }).plaintext;
    expect(dk.equals(dataKey.plaintext)).toBe(true);
    expect(
      verify(again, sys, { keyId: ecc, message, signature: eccSig, signingAlgorithm: 'ECDSA_SHA_256' })
        .signatureValid,
    ).toBe(true);
    expect(
      verifyMac(again, sys, { keyId: mac, message, mac: tag, macAlgorithm: 'HMAC_SHA_256' }).macValid,
    ).toBe(true);
    // State survives too: the disabled RSA key stays disabled (and its signature is not checked while it is).
    const disabled = (() => {
      try {
        verify(again, sys, {
          keyId: rsa,
          message,
          signature: rsaSig,
          signingAlgorithm: 'RSASSA_PSS_SHA_256',
        });
        return 'verified';
      } catch (e) {
        return e instanceof KmsError ? e.code : String(e);
      }
    })();
    expect(disabled).toBe('DisabledException');
  });
});
