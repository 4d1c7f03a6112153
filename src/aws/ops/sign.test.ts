/**
 * Sign, Verify, GetPublicKey, DeriveSharedSecret, GenerateMac, VerifyMac through @aws-sdk/client-kms: results
 * an offline verifier accepts, failures as KMSInvalidSignature/MacException, usage mismatch, key states and
 * denial.
 */
import {
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  verify as nodeVerify,
} from 'node:crypto';
import {
  CreateKeyCommand,
  type CreateKeyCommandInput,
  DeriveSharedSecretCommand,
  DisableKeyCommand,
  EnableKeyCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  type KMSClient,
  ScheduleKeyDeletionCommand,
  SignCommand,
  VerifyCommand,
  VerifyMacCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorName, type Harness, startHarness } from '../testing/harness.ts';

let h: Harness;
let admin: KMSClient;
let alice: KMSClient;
const msg = Buffer.from('message to sign');

async function newKey(input: CreateKeyCommandInput): Promise<string> {
  return (await admin.send(new CreateKeyCommand(input))).KeyMetadata!.KeyId!;
}

beforeAll(async () => {
  h = await startHarness();
  admin = h.client('admin');
  alice = h.client('alice');
});

afterAll(async () => {
  expect(h.violations).toEqual([]);
  expect(h.seen.filter((s) => s.status >= 500)).toEqual([]);
  await h.close();
});

describe('Sign / Verify / GetPublicKey', () => {
  it('ECDSA P-256: DER signatures an offline verifier accepts, RAW and DIGEST', async () => {
    const id = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const pub = await admin.send(new GetPublicKeyCommand({ KeyId: id }));
    expect(pub.KeySpec).toBe('ECC_NIST_P256');
    expect(pub.KeyUsage).toBe('SIGN_VERIFY');
    expect(pub.SigningAlgorithms).toEqual(['ECDSA_SHA_256']);
    const publicKey = createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' });
    const s = await admin.send(
      new SignCommand({ KeyId: id, Message: msg, SigningAlgorithm: 'ECDSA_SHA_256' }),
    );
    expect(s.KeyId).toBe(pub.KeyId);
    expect(nodeVerify('sha256', msg, publicKey, Buffer.from(s.Signature!))).toBe(true);
    const digest = createHash('sha256').update(msg).digest();
    const sd = await admin.send(
      new SignCommand({
        KeyId: id,
        Message: digest,
        MessageType: 'DIGEST',
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    expect(nodeVerify('sha256', msg, publicKey, Buffer.from(sd.Signature!))).toBe(true);
    const v = await admin.send(
      new VerifyCommand({
        KeyId: id,
        Message: msg,
        Signature: s.Signature,
        SigningAlgorithm: 'ECDSA_SHA_256',
      }),
    );
    expect(v.SignatureValid).toBe(true);
    expect(
      await errorName(
        admin.send(
          new VerifyCommand({
            KeyId: id,
            Message: Buffer.from('other'),
            Signature: s.Signature,
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
      ),
    ).toBe('KMSInvalidSignatureException');
    expect(
      await errorName(
        admin.send(
          new VerifyCommand({
            KeyId: id,
            Message: msg,
            Signature: Buffer.from('junk'),
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
      ),
    ).toBe('KMSInvalidSignatureException');
    expect(
      await errorName(
        admin.send(new SignCommand({ KeyId: id, Message: msg, SigningAlgorithm: 'RSASSA_PSS_SHA_256' })),
      ),
    ).toBe('InvalidKeyUsageException');
    expect(
      await errorName(
        admin.send(
          new SignCommand({
            KeyId: id,
            Message: msg,
            MessageType: 'DIGEST',
            SigningAlgorithm: 'ECDSA_SHA_256',
          }),
        ),
      ),
    ).toBe('ValidationException');
    expect(
      await errorName(
        admin.send(
          new SignCommand({ KeyId: id, Message: msg, SigningAlgorithm: 'ECDSA_SHA_256', DryRun: true }),
        ),
      ),
    ).toBe('DryRunOperationException');
    expect(
      await errorName(
        alice.send(new SignCommand({ KeyId: id, Message: msg, SigningAlgorithm: 'ECDSA_SHA_256' })),
      ),
    ).toBe('AccessDeniedException');
    expect(await errorName(alice.send(new GetPublicKeyCommand({ KeyId: id })))).toBe('AccessDeniedException');
  });

  it('RSA-PSS and Ed25519 signatures verify offline', async () => {
    const rsa = await newKey({ KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    const rpub = createPublicKey({
      key: Buffer.from((await admin.send(new GetPublicKeyCommand({ KeyId: rsa }))).PublicKey!),
      format: 'der',
      type: 'spki',
    });
    const rs = await admin.send(
      new SignCommand({ KeyId: rsa, Message: msg, SigningAlgorithm: 'RSASSA_PSS_SHA_256' }),
    );
    expect(
      nodeVerify('sha256', msg, { key: rpub, padding: 6, saltLength: 32 }, Buffer.from(rs.Signature!)),
    ).toBe(true);
    const ed = await newKey({ KeySpec: 'ECC_NIST_EDWARDS25519', KeyUsage: 'SIGN_VERIFY' });
    const epub = createPublicKey({
      key: Buffer.from((await admin.send(new GetPublicKeyCommand({ KeyId: ed }))).PublicKey!),
      format: 'der',
      type: 'spki',
    });
    const es = await admin.send(
      new SignCommand({ KeyId: ed, Message: msg, SigningAlgorithm: 'ED25519_SHA_512' }),
    );
    expect(nodeVerify(null, msg, epub, Buffer.from(es.Signature!))).toBe(true);
  });

  it('a symmetric key has no public key; a disabled key signs nothing', async () => {
    const sym = await newKey({});
    expect(await errorName(admin.send(new GetPublicKeyCommand({ KeyId: sym })))).toBe(
      'UnsupportedOperationException',
    );
    expect(
      await errorName(
        admin.send(new SignCommand({ KeyId: sym, Message: msg, SigningAlgorithm: 'ECDSA_SHA_256' })),
      ),
    ).toBe('InvalidKeyUsageException');
    const id = await newKey({ KeySpec: 'ECC_NIST_P384', KeyUsage: 'SIGN_VERIFY' });
    await admin.send(new DisableKeyCommand({ KeyId: id }));
    expect(
      await errorName(
        admin.send(new SignCommand({ KeyId: id, Message: msg, SigningAlgorithm: 'ECDSA_SHA_384' })),
      ),
    ).toBe('DisabledException');
    expect(await errorName(admin.send(new GetPublicKeyCommand({ KeyId: id })))).toBe('DisabledException');
    await admin.send(new ScheduleKeyDeletionCommand({ KeyId: id, PendingWindowInDays: 7 }));
    expect(
      await errorName(
        admin.send(new SignCommand({ KeyId: id, Message: msg, SigningAlgorithm: 'ECDSA_SHA_384' })),
      ),
    ).toBe('KMSInvalidStateException');
  });
});

describe('DeriveSharedSecret', () => {
  it('ECDH on P-256 agrees with the peer, refuses bad peer keys and the wrong usage', async () => {
    const id = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'KEY_AGREEMENT' });
    const pub = await admin.send(new GetPublicKeyCommand({ KeyId: id }));
    expect(pub.KeyAgreementAlgorithms).toEqual(['ECDH']);
    const peer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const out = await admin.send(
      new DeriveSharedSecretCommand({
        KeyId: id,
        KeyAgreementAlgorithm: 'ECDH',
        PublicKey: peer.publicKey.export({ format: 'der', type: 'spki' }),
      }),
    );
    expect(out.KeyOrigin).toBe('AWS_KMS');
    const expected = diffieHellman({
      privateKey: peer.privateKey,
      publicKey: createPublicKey({ key: Buffer.from(pub.PublicKey!), format: 'der', type: 'spki' }),
    });
    expect(Buffer.from(out.SharedSecret!).equals(expected)).toBe(true);
    expect(
      await errorName(
        admin.send(
          new DeriveSharedSecretCommand({
            KeyId: id,
            KeyAgreementAlgorithm: 'ECDH',
            PublicKey: Buffer.from('bad'),
          }),
        ),
      ),
    ).toBe('ValidationException');
    const signer = await newKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(
      await errorName(
        admin.send(
          new DeriveSharedSecretCommand({
            KeyId: signer,
            KeyAgreementAlgorithm: 'ECDH',
            PublicKey: peer.publicKey.export({ format: 'der', type: 'spki' }),
          }),
        ),
      ),
    ).toBe('InvalidKeyUsageException');
    expect(
      await errorName(
        alice.send(
          new DeriveSharedSecretCommand({
            KeyId: id,
            KeyAgreementAlgorithm: 'ECDH',
            PublicKey: peer.publicKey.export({ format: 'der', type: 'spki' }),
          }),
        ),
      ),
    ).toBe('AccessDeniedException');
  });
});

describe('GenerateMac / VerifyMac', () => {
  it('HMAC_256: MACs verify, a wrong MAC is KMSInvalidMacException', async () => {
    const id = await newKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const m = await admin.send(
      new GenerateMacCommand({ KeyId: id, Message: msg, MacAlgorithm: 'HMAC_SHA_256' }),
    );
    expect(m.Mac).toHaveLength(32);
    const v = await admin.send(
      new VerifyMacCommand({ KeyId: id, Message: msg, MacAlgorithm: 'HMAC_SHA_256', Mac: m.Mac }),
    );
    expect(v.MacValid).toBe(true);
    expect(
      await errorName(
        admin.send(
          new VerifyMacCommand({
            KeyId: id,
            Message: Buffer.from('x'),
            MacAlgorithm: 'HMAC_SHA_256',
            Mac: m.Mac,
          }),
        ),
      ),
    ).toBe('KMSInvalidMacException');
    expect(
      await errorName(
        admin.send(new GenerateMacCommand({ KeyId: id, Message: msg, MacAlgorithm: 'HMAC_SHA_512' })),
      ),
    ).toBe('InvalidKeyUsageException');
    expect(
      await errorName(
        admin.send(
          new GenerateMacCommand({ KeyId: id, Message: msg, MacAlgorithm: 'HMAC_SHA_256', DryRun: true }),
        ),
      ),
    ).toBe('DryRunOperationException');
    expect(
      await errorName(
        alice.send(new GenerateMacCommand({ KeyId: id, Message: msg, MacAlgorithm: 'HMAC_SHA_256' })),
      ),
    ).toBe('AccessDeniedException');
    await admin.send(new DisableKeyCommand({ KeyId: id }));
    expect(
      await errorName(
        admin.send(new GenerateMacCommand({ KeyId: id, Message: msg, MacAlgorithm: 'HMAC_SHA_256' })),
      ),
    ).toBe('DisabledException');
    await admin.send(new EnableKeyCommand({ KeyId: id }));
    const sym = await newKey({});
    expect(
      await errorName(
        admin.send(new GenerateMacCommand({ KeyId: sym, Message: msg, MacAlgorithm: 'HMAC_SHA_256' })),
      ),
    ).toBe('InvalidKeyUsageException');
  });
});
