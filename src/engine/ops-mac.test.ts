import { createHmac } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../crypto/node-provider.ts';
import { EngineCore } from './core.ts';
import { createKey, disableKey, scheduleKeyDeletion } from './ops-keys.ts';
import { generateMac, verifyMac } from './ops-mac.ts';
import { rotateKeyOnDemand } from './ops-rotation.ts';
import { SYSTEM } from './policy.ts';
import { MAC_ALGORITHMS, type MacAlgorithm } from './specs.ts';
import { kmsError, MemoryKeyStore, principal, TestRootKey } from './testing.ts';

const sys = { caller: SYSTEM };
const admin = principal('admin', { admin: true });
const bytes = (s: string) => new TextEncoder().encode(s);

const expectCode = (f: () => unknown, code: string) => expect(kmsError(f).code).toBe(code);
function expectValidation(f: () => unknown, field: string): void {
  const e = kmsError(f);
  expect(e.code).toBe('ValidationException');
  expect(e.field).toBe(field);
  expect(e.message.startsWith(`${field}:`)).toBe(true);
}

const SPECS = [
  ['HMAC_224', 'HMAC_SHA_224', 'sha224', 28],
  ['HMAC_256', 'HMAC_SHA_256', 'sha256', 32],
  ['HMAC_384', 'HMAC_SHA_384', 'sha384', 48],
  ['HMAC_512', 'HMAC_SHA_512', 'sha512', 64],
] as const;

let core: EngineCore;

beforeEach(async () => {
  core = await EngineCore.open({
    crypto: nodeCrypto,
    rootKey: new TestRootKey(nodeCrypto),
    store: new MemoryKeyStore(),
  });
});

/** White box: the unwrapped material of a version, held only in the engine's memory (never exported). */
const materialOf = (keyId: string, version: number): Uint8Array =>
  core.loadedKey(keyId)!.material.get(version)!.unsafeBytes();

describe('GenerateMac / VerifyMac', () => {
  for (const [spec, alg, nodeHash, length] of SPECS) {
    it(`${spec}: ${length}-byte ${alg} equal to node:crypto HMAC, verified, and a flipped bit refused`, async () => {
      const { keyId } = await createKey(core, sys, { keySpec: spec, keyUsage: 'GENERATE_VERIFY_MAC' });
      const message = bytes(`mac me with ${alg}`);
      const out = generateMac(core, sys, { keyId, message, macAlgorithm: alg });
      expect(out).toMatchObject({ keyId: core.arnOf(keyId), macAlgorithm: alg });
      expect(out.mac.length).toBe(length);
      expect(materialOf(keyId, 1).length).toBe(length); // AWS: HMAC key length = hash output length
      expect(
        Buffer.from(out.mac).equals(createHmac(nodeHash, materialOf(keyId, 1)).update(message).digest()),
      ).toBe(true);
      expect(verifyMac(core, sys, { keyId, message, macAlgorithm: alg, mac: out.mac })).toEqual({
        keyId: core.arnOf(keyId),
        macValid: true,
        macAlgorithm: alg,
      });
      for (const bit of [0, 7, out.mac.length * 8 - 1]) {
        const flipped = Uint8Array.from(out.mac);
        flipped[bit >> 3]! ^= 1 << (bit & 7);
        expectCode(
          () => verifyMac(core, sys, { keyId, message, macAlgorithm: alg, mac: flipped }),
          'KMSInvalidMacException',
        );
      }
      expectCode(
        () =>
          verifyMac(core, sys, { keyId, message, macAlgorithm: alg, mac: out.mac.subarray(0, length - 1) }),
        'KMSInvalidMacException',
      );
      expectCode(
        () => verifyMac(core, sys, { keyId, message: bytes('other'), macAlgorithm: alg, mac: out.mac }),
        'KMSInvalidMacException',
      );
    });
  }

  it('a MAC made before an on-demand rotation still verifies after it; new MACs use the new version', async () => {
    const { keyId } = await createKey(core, sys, { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const message = bytes('long-lived token');
    const before = generateMac(core, sys, { keyId, message, macAlgorithm: 'HMAC_SHA_256' }).mac;
    await rotateKeyOnDemand(core, admin, keyId);
    const after = generateMac(core, sys, { keyId, message, macAlgorithm: 'HMAC_SHA_256' }).mac;
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(false);
    expect(
      Buffer.from(after).equals(createHmac('sha256', materialOf(keyId, 2)).update(message).digest()),
    ).toBe(true);
    for (const mac of [before, after]) {
      expect(verifyMac(core, sys, { keyId, message, macAlgorithm: 'HMAC_SHA_256', mac }).macValid).toBe(true);
    }
  });

  it('refuses a MacAlgorithm that does not fit the key with InvalidKeyUsageException', async () => {
    for (const [spec, alg] of SPECS) {
      const { keyId } = await createKey(core, sys, { keySpec: spec, keyUsage: 'GENERATE_VERIFY_MAC' });
      for (const other of MAC_ALGORITHMS.filter((a: MacAlgorithm) => a !== alg)) {
        const e = kmsError(() => generateMac(core, sys, { keyId, message: bytes('m'), macAlgorithm: other }));
        expect(`${spec} ${other} ${e.code}`).toBe(`${spec} ${other} InvalidKeyUsageException`);
        expectCode(
          () =>
            verifyMac(core, sys, {
              keyId,
              message: bytes('m'),
              macAlgorithm: other,
              mac: new Uint8Array(32),
            }),
          'InvalidKeyUsageException',
        );
      }
    }
  });

  it('validates Message (1-4096 bytes), MacAlgorithm and Mac, naming the field', async () => {
    const { keyId } = await createKey(core, sys, { keySpec: 'HMAC_384', keyUsage: 'GENERATE_VERIFY_MAC' });
    const ok = { keyId, macAlgorithm: 'HMAC_SHA_384' };
    expect(generateMac(core, sys, { ...ok, message: new Uint8Array(4096) }).mac.length).toBe(48);
    expect(generateMac(core, sys, { ...ok, message: new Uint8Array(1) }).mac.length).toBe(48);
    expectValidation(() => generateMac(core, sys, { ...ok, message: new Uint8Array(0) }), 'Message');
    expectValidation(() => generateMac(core, sys, { ...ok, message: new Uint8Array(4097) }), 'Message');
    expectValidation(
      () => verifyMac(core, sys, { ...ok, message: new Uint8Array(4097), mac: new Uint8Array(48) }),
      'Message',
    );
    expectValidation(
      () => verifyMac(core, sys, { ...ok, message: new Uint8Array(0), mac: new Uint8Array(48) }),
      'Message',
    );
    expectValidation(() => generateMac(core, sys, { ...ok, message: 'text' }), 'Message');
    expectValidation(
      () => generateMac(core, sys, { keyId, message: bytes('m'), macAlgorithm: 'HMAC_SHA_1' }),
      'MacAlgorithm',
    );
    expectValidation(
      () => generateMac(core, sys, { keyId, message: bytes('m'), macAlgorithm: undefined }),
      'MacAlgorithm',
    );
    expectValidation(
      () => verifyMac(core, sys, { ...ok, message: bytes('m'), mac: new Uint8Array(0) }),
      'Mac',
    );
    expectValidation(() => verifyMac(core, sys, { ...ok, message: bytes('m'), mac: undefined }), 'Mac');
  });

  it('checks state and usage: disabled, pending deletion, non-HMAC keys, unauthorized callers', async () => {
    const { keyId } = await createKey(core, sys, { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' });
    const input = { keyId, message: bytes('m'), macAlgorithm: 'HMAC_SHA_256' };
    const { mac } = generateMac(core, sys, input);
    expectCode(() => generateMac(core, principal('mallory'), input), 'AccessDeniedException');
    expectCode(() => verifyMac(core, principal('mallory'), { ...input, mac }), 'AccessDeniedException');
    await disableKey(core, admin, keyId);
    expectCode(() => generateMac(core, sys, input), 'DisabledException');
    expectCode(() => verifyMac(core, sys, { ...input, mac }), 'DisabledException');
    await scheduleKeyDeletion(core, admin, keyId, 7);
    expectCode(() => verifyMac(core, sys, { ...input, mac }), 'KMSInvalidStateException');

    const sym = (await createKey(core, sys, {})).keyId;
    const ecc = (await createKey(core, sys, { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' })).keyId;
    for (const other of [sym, ecc]) {
      expectCode(() => generateMac(core, sys, { ...input, keyId: other }), 'InvalidKeyUsageException');
      expectCode(() => verifyMac(core, sys, { ...input, keyId: other, mac }), 'InvalidKeyUsageException');
    }
    expectCode(() => generateMac(core, sys, { ...input, keyId: 'alias/none' }), 'NotFoundException');
  });
});
