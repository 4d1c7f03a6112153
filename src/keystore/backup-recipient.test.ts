/**
 * Escrow backups sealed to a recipient's X25519 public key (rootkey/recipient-key.ts): they restore with the
 * recipient's private key under any root key, are refused with another private key or when altered, and hold no
 * key material in clear.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { keyMaterialAad, type StoreState } from '../engine/records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { recipientFingerprint } from '../rootkey/recipient-key.ts';
import { createBackup, describeUnopened, openBackup, readBackup } from './backup.ts';
import { FileKeyStore } from './file-keystore.ts';
import { restoreBackup } from './restore.ts';
import { signingKey } from './testdata/sample-records.ts';
import { fillSampleStore, tempDir } from './testing.ts';

const dir = tempDir('kubekms-recipient-', 'each');
let rootKey: RootKey;
let state: StoreState;
beforeEach(async () => {
  rootKey = await FileRootKey.create(join(dir(), 'root.key'));
  state = await fillSampleStore(
    () => new FileKeyStore({ dataDir: join(dir(), 'source'), rootKey }),
    rootKey,
    [await signingKey(rootKey, 'k3')],
  );
});

const rawPublic = (k: KeyObject) =>
  new Uint8Array(Buffer.from(k.export({ format: 'jwk' }).x ?? '', 'base64url'));
const pair = () => generateKeyPairSync('x25519');

async function sealedTo(recipient: KeyObject): Promise<string> {
  const r = await createBackup({
    dataDir: join(dir(), 'source'),
    rootKey,
    escrow: { recipient: rawPublic(recipient) },
  });
  expect(r.summary.sealedBy).toBe('recipient');
  return r.text;
}

const restore = async (text: string, escrowKey: KeyObject, target = join(dir(), 'target')) => {
  const offsite = await FileRootKey.create(join(dir(), `offsite-${Math.random()}.key`));
  await restoreBackup({
    backup: new TextEncoder().encode(text),
    backupFile: 'b.json',
    dataDir: target,
    rootKey: offsite,
    escrowKey,
  });
  return offsite;
};

describe('escrow to a recipient public key', () => {
  it('restores with the private key under another root key, every version with the same material', async () => {
    const r = pair();
    const text = await sealedTo(r.publicKey);
    const target = join(dir(), 'target');
    const offsite = await restore(text, r.privateKey, target);
    const s = new FileKeyStore({ dataDir: target, rootKey: offsite });
    const back = await s.open();
    await s.close();
    expect(back.aliases).toEqual(state.aliases);
    expect(back.grants).toEqual(state.grants);
    expect(back.keys.map((k) => k.keyId)).toEqual(['k1', 'k2', 'k3']);
    for (const [i, k] of back.keys.entries())
      for (const [j, v] of k.versions.entries()) {
        const aad = keyMaterialAad(k.keyId, v.version);
        const now = await offsite.unwrap(v.wrappedMaterial, aad);
        const was = await rootKey.unwrap(state.keys[i]!.versions[j]!.wrappedMaterial, aad);
        expect(now.equals(was)).toBe(true);
      }
  });

  it('describes the backup without the private key: counts and the recipient, nothing unwrapped', async () => {
    const r = pair();
    const text = await sealedTo(r.publicKey);
    const b = readBackup(new TextEncoder().encode(text), 'b.json');
    expect(describeUnopened(b)).toMatchObject({
      keys: 3,
      versions: 5,
      aliases: 1,
      grants: 1,
      sealedBy: 'recipient',
      recipient: recipientFingerprint(rawPublic(r.publicKey)),
    });
    await expect(openBackup(b, 'b.json', {})).rejects.toThrow(
      /sealed to an escrow recipient: give --escrow-key/,
    );
  });

  it("refuses another recipient's private key, naming --escrow-key, and writes nothing", async () => {
    const text = await sealedTo(pair().publicKey);
    await expect(restore(text, pair().privateKey)).rejects.toThrow(
      /--escrow-key: not the private key of this backup's recipient \(the backup is sealed to [0-9a-f]{16}, this key is [0-9a-f]{16}\)/,
    );
  });

  it('refuses a tampered backup: a record, the ephemeral key, the recipient swapped for another', async () => {
    const r = pair();
    const text = await sealedTo(r.publicKey);
    const policy = text.replace('"group:system:masters"', '"*"');
    expect(policy).not.toBe(text);
    await expect(restore(policy, r.privateKey)).rejects.toThrow(
      /b\.json: keystore: keys\[0\] \(key "k1"\): changed without the root key/,
    );
    const doc = JSON.parse(text) as { recipient: { enc: string; publicKey: string } };
    const otherEnc = Buffer.from(rawPublic(pair().publicKey)).toString('base64');
    await expect(restore(text.replace(doc.recipient.enc, otherEnc), r.privateKey)).rejects.toThrow(
      /b\.json: recipient\.enc or rootKeyCheck: altered/,
    );
    const mallory = pair();
    const swapped = text.replace(
      doc.recipient.publicKey,
      Buffer.from(rawPublic(mallory.publicKey)).toString('base64'),
    );
    await expect(restore(swapped, mallory.privateKey)).rejects.toThrow(/altered/);
    const short = text.replace(doc.recipient.enc, 'AAAA');
    await expect(restore(short, r.privateKey)).rejects.toThrow(/b\.json: recipient\.enc: expected 32 bytes/);
  });

  it('holds no key material in clear: no version in base64 or hex', async () => {
    const r = pair();
    const text = await sealedTo(r.publicKey);
    let checked = 0;
    for (const k of state.keys)
      for (const v of k.versions) {
        const m = await rootKey.unwrap(v.wrappedMaterial, keyMaterialAad(k.keyId, v.version));
        const bytes = Buffer.from(m.unsafeBytes());
        for (const form of [
          bytes.toString('base64'),
          bytes.toString('hex'),
          bytes.subarray(0, 12).toString('base64'),
        ])
          expect(text.includes(form)).toBe(false);
        m.wipe();
        checked++;
      }
    expect(checked).toBe(5);
    const d = r.privateKey.export({ format: 'jwk' }).d ?? '';
    expect(text.includes(Buffer.from(d, 'base64url').toString('base64'))).toBe(false);
  });

  it('format versions: a version 1 file (before recipients) still opens; recipient needs 2; 3 is refused', async () => {
    const plain = (await createBackup({ dataDir: join(dir(), 'source'), rootKey })).text;
    expect(plain).toContain('"formatVersion": 2');
    const v1 = plain.replace('"formatVersion": 2', '"formatVersion": 1');
    const b = readBackup(new TextEncoder().encode(v1), 'old.json');
    expect((await openBackup(b, 'old.json', { rootKey })).summary).toMatchObject({ keys: 3, versions: 5 });
    const sealed = (await sealedTo(pair().publicKey)).replace('"formatVersion": 2', '"formatVersion": 1');
    expect(() => readBackup(new TextEncoder().encode(sealed), 'b.json')).toThrow(
      /backup: b\.json: sealedBy: unknown value "recipient"/,
    );
    const v3 = plain.replace('"formatVersion": 2', '"formatVersion": 3');
    expect(() => readBackup(new TextEncoder().encode(v3), 'b.json')).toThrow(
      /backup: b\.json: formatVersion: 3: written by a newer kubekms/,
    );
  });
});
