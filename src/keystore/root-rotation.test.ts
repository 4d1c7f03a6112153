/**
 * Root-key rotation of a local keystore (root-rotation.ts) on both stores: every record moves to the new root
 * with the same content and the same key material, the old root no longer opens it, a second run changes
 * nothing, and it refuses — writing nothing — while the store is open, or when the given current root is wrong.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { readDocument } from './document-trust.ts';
import { KeyStoreError } from './errors.ts';
import { RECORD_AUTH_KEY_AAD } from './record-auth.ts';
import { rotateRootKey } from './root-rotation.ts';
import { readDatabaseFile } from './sqlite-file.ts';
import { materials, withoutMaterial } from './testdata/rotation-checks.ts';
import {
  alias,
  fullGrant,
  fullKey,
  minimalGrant,
  minimalKey,
  signingKey,
} from './testdata/sample-records.ts';
import { STORES, type StoreKind } from './testdata/stores.ts';
import { openedState, tempDir } from './testing.ts';

describe.each(STORES)('root-key rotation of the $name keystore', (kind: StoreKind) => {
  const dir = tempDir('kubekms-rootrot-', 'each');
  let dataDir: string;
  let file: string;
  let oldRoot: FileRootKey;
  let newRoot: FileRootKey;

  beforeEach(async () => {
    dataDir = join(dir(), 'data');
    file = join(dataDir, kind.file);
    oldRoot = await FileRootKey.create(join(dir(), 'old.key'));
    newRoot = await FileRootKey.create(join(dir(), 'new.key'));
  });

  async function fill(): Promise<StoreState> {
    const s = kind.make({ dataDir, rootKey: oldRoot });
    await s.open();
    await s.commit({
      putKeys: [
        await fullKey(oldRoot, 'k-full'),
        await minimalKey(oldRoot, 'k-min'),
        await signingKey(oldRoot, 'k-sig'),
      ],
      putAliases: [alias('alias/kubekms/secrets', 'k-min')],
      putGrants: [fullGrant('g1', 'k-full'), minimalGrant('g2', 'k-min')],
    });
    await s.close();
    return reopen(oldRoot);
  }

  const reopen = (rootKey: RootKey): Promise<StoreState> => openedState(kind.make({ dataDir, rootKey }));

  async function wrappedRecordKey(): Promise<Uint8Array> {
    if (kind.name === 'sqlite') return readDatabaseFile(file).meta.recordAuthKey;
    const doc = await readDocument((await import('./keystore-fs.ts')).nodeFs, file);
    return doc!.auth!.recordAuthKey;
  }

  it('moves every record to the new root: same records, same key material, the old root refused', async () => {
    const before = await fill();
    const material = await materials(before, oldRoot);
    const oldRecordKey = await wrappedRecordKey();

    const r = await rotateRootKey({ dataDir, from: oldRoot, to: newRoot });
    expect(r).toEqual({ outcome: 'rotated', file, keys: 3, versions: 5, records: 6 });

    const after = await reopen(newRoot);
    expect(withoutMaterial(after)).toEqual(withoutMaterial(before));
    expect(await materials(after, newRoot)).toEqual(material);
    for (const k of after.keys) for (const v of k.versions) expect(v.wrappedMaterial[0]).toBe(0x01);
    await expect(reopen(oldRoot)).rejects.toThrow(
      `keystore: ${file} is sealed under a different root key than ${oldRoot.description}`,
    );
    // A new record authentication key, wrapped by the new root only: the old root cannot forge records.
    const recordKey = await wrappedRecordKey();
    expect(Buffer.from(recordKey).equals(Buffer.from(oldRecordKey))).toBe(false);
    await expect(oldRoot.unwrap(recordKey, RECORD_AUTH_KEY_AAD)).rejects.toBeInstanceOf(RootKeyMismatchError);
    (await newRoot.unwrap(recordKey, RECORD_AUTH_KEY_AAD)).wipe();
  });

  it('a second run finds the store under the new root and changes nothing', async () => {
    await fill();
    await rotateRootKey({ dataDir, from: oldRoot, to: newRoot });
    const bytes = await readFile(file);
    const r = await rotateRootKey({ dataDir, from: oldRoot, to: newRoot });
    expect(r.outcome).toBe('already');
    expect(r.versions).toBe(5);
    expect(Buffer.compare(await readFile(file), bytes)).toBe(0);
    // And back again: rotation works in both directions.
    expect((await rotateRootKey({ dataDir, from: newRoot, to: oldRoot })).outcome).toBe('rotated');
    expect((await reopen(oldRoot)).keys.map((k) => k.keyId)).toEqual(['k-full', 'k-min', 'k-sig']);
  });

  it('refuses, writing nothing, while the store is open (serve holds the lock)', async () => {
    await fill();
    const bytes = await readFile(file);
    const s = kind.make({ dataDir, rootKey: oldRoot });
    await s.open();
    try {
      const err = await rotateRootKey({ dataDir, from: oldRoot, to: newRoot }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KeyStoreError);
      expect((err as Error).message).toMatch(/this process already has .* open|another kubekms/);
    } finally {
      await s.close();
    }
    expect(Buffer.compare(await readFile(file), bytes)).toBe(0);
    expect((await reopen(oldRoot)).keys).toHaveLength(3);
  });

  it('refuses, writing nothing, when the store is under neither root', async () => {
    await fill();
    const bytes = await readFile(file);
    const stranger = await FileRootKey.create(join(dir(), 'stranger.key'));
    const err = await rotateRootKey({ dataDir, from: stranger, to: newRoot }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `keystore: ${file} is sealed under a different root key than ${stranger.description}; ` +
        'start kubekms with the root key that created this store',
    );
    expect(Buffer.compare(await readFile(file), bytes)).toBe(0);
  });

  it('refuses while another process (serve) holds the data dir, saying the rotation is offline', async () => {
    await fill();
    const bytes = await readFile(file);
    await writeFile(join(dataDir, 'keystore.lock'), `${process.ppid}\n`);
    const err = await rotateRootKey({ dataDir, from: oldRoot, to: newRoot }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `keystore: another kubekms (pid ${process.ppid}) uses this data dir ${dataDir}; if no kubekms runs ` +
        `there, remove ${join(dataDir, 'keystore.lock')}. Root-key rotation is offline: stop kubekms serve on ` +
        'this node, rotate, then start it with the new root key',
    );
    expect(Buffer.compare(await readFile(file), bytes)).toBe(0);
  });

  it('refuses an empty data dir, naming it', async () => {
    const err = await rotateRootKey({ dataDir: join(dir(), 'nothing'), from: oldRoot, to: newRoot }).catch(
      (e: unknown) => e,
    );
    expect((err as Error).message).toBe(`keystore: no data dir ${join(dir(), 'nothing')}`);
  });
});
