/**
 * Moving a store's state from one root key to another: every key version unwrapped under `from` and wrapped under
 * `to` (AAD binding key id and version, as everywhere), a new root key check and a new record authentication key
 * under `to`. Used for escrow backups (to a passphrase key) and restores (back to the root key of the target).
 * Also checks that every version of a state unwraps, which is what makes a backup worth keeping.
 */
import { randomBytes } from 'node:crypto';
import type { RootKey } from '../engine/ports.ts';
import { type KeyRecord, keyMaterialAad, type StoreState } from '../engine/records.ts';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { KeyStoreError } from './errors.ts';
import { type KeystoreDocument, ROOT_KEY_CHECK_AAD } from './keystore-document.ts';
import { RecordAuthKey } from './record-auth.ts';

export interface SealedDocument {
  readonly doc: KeystoreDocument;
  readonly recordAuthKey: Uint8Array;
  readonly key: RecordAuthKey;
}

/** `doc` sealed under `to` instead of `from`: same records and generation, key material re-wrapped. */
export async function resealDocument(
  doc: KeystoreDocument,
  from: RootKey,
  to: RootKey,
): Promise<SealedDocument> {
  const keys: KeyRecord[] = [];
  for (const k of doc.state.keys) {
    const versions = [];
    for (const v of k.versions) {
      const aad = keyMaterialAad(k.keyId, v.version);
      const material = await unwrapVersion(from, k.keyId, v.version, v.wrappedMaterial);
      try {
        versions.push({ ...v, wrappedMaterial: await to.wrap(material, aad) });
      } finally {
        material.wipe();
      }
    }
    keys.push({ ...k, versions });
  }
  const check = new SecretBytes(new Uint8Array(randomBytes(32)));
  const rootKeyCheck = await to.wrap(check, ROOT_KEY_CHECK_AAD);
  check.wipe();
  const { key, wrapped } = await RecordAuthKey.generate(to);
  const state: StoreState = { ...doc.state, keys };
  return { doc: { rootKeyCheck, generation: doc.generation, state }, recordAuthKey: wrapped, key };
}

/** Unwraps every key version of `state` (and forgets the material): throws naming the first that does not. */
export async function checkMaterial(state: StoreState, rootKey: RootKey): Promise<number> {
  let versions = 0;
  for (const k of state.keys)
    for (const v of k.versions) {
      (await unwrapVersion(rootKey, k.keyId, v.version, v.wrappedMaterial)).wipe();
      versions++;
    }
  return versions;
}

async function unwrapVersion(rootKey: RootKey, keyId: string, version: number, wrapped: Uint8Array) {
  try {
    return await rootKey.unwrap(wrapped, keyMaterialAad(keyId, version));
  } catch (e) {
    const why = e instanceof RootKeyMismatchError ? 'not wrapped by this root key' : String(e);
    throw new KeyStoreError(
      `keystore: key ${JSON.stringify(keyId)} version ${version} does not unwrap: ${why}`,
    );
  }
}
