/**
 * A read-only look at a local keystore, for `kubekms doctor`: reads `<dataDir>/keystore.db` (or a keystore.json
 * not migrated yet) as strictly as opening it does, checks that it is sealed by the given root key and that its
 * records are authenticated under it — WITHOUT taking the keystore lock (a running `kubekms serve` holds it) and
 * without creating or changing anything (local-snapshot.ts).
 */
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import type { KeyRecord } from '../engine/records.ts';
import { KeyStoreError } from './errors.ts';
import type { KeystoreDocument } from './keystore-document.ts';
import { type KeyStoreFs, nodeFs } from './keystore-fs.ts';
import { LOCK_FILE, liveLockOwner } from './keystore-lock.ts';
import { keystorePaths, readLocalSnapshot } from './local-snapshot.ts';

export interface KeystoreInspection {
  readonly file: string;
  readonly generation: number;
  readonly keys: number;
  readonly aliases: number;
  readonly grants: number;
  /** The key `secretsKey` names, when the store has it. */
  readonly secretsKey?: {
    readonly keyId: string;
    readonly primaryVersion: number;
    readonly versions: number;
    /** The highest version number the store holds of it. */
    readonly newestVersion: number;
  };
  /** The pid in keystore.lock while that process holds it (a running serve; lock-record.ts), else undefined. */
  readonly lockedByPid?: number;
}

export interface InspectOptions {
  readonly dataDir: string;
  readonly rootKey: RootKey;
  /** A key id, key ARN, alias name or alias ARN (serve's --secrets-key). Default alias/kubekms/secrets. */
  readonly secretsKey?: string;
  readonly fs?: KeyStoreFs;
}

/** Throws KeyStoreError (naming the file, and the field when a record is malformed) when the store is unusable. */
export async function inspectKeystore(o: InspectOptions): Promise<KeystoreInspection> {
  const fs = o.fs ?? nodeFs;
  const snapshot = await readLocalSnapshot(fs, o.dataDir, o.rootKey);
  if (snapshot === undefined)
    throw new KeyStoreError(
      `keystore: no keystore at ${keystorePaths(o.dataDir)} (wrong --data-dir, or serve never started there)`,
    );
  const { file, doc } = snapshot;
  const { keys, aliases, grants } = doc.state;
  const key = findKey(doc, o.secretsKey ?? 'alias/kubekms/secrets');
  const pid = await lockPid(fs, o.dataDir);
  return {
    file,
    generation: doc.generation,
    keys: keys.length,
    aliases: aliases.length,
    grants: grants.length,
    ...(key
      ? {
          secretsKey: {
            keyId: key.keyId,
            primaryVersion: key.primaryVersion,
            versions: key.versions.length,
            newestVersion: Math.max(...key.versions.map((v) => v.version)),
          },
        }
      : {}),
    ...(pid !== undefined ? { lockedByPid: pid } : {}),
  };
}

/** Resolves a key id, `arn:…:key/<id>`, `alias/<name>` or `arn:…:alias/<name>` against the document. */
function findKey(doc: KeystoreDocument, ref: string): KeyRecord | undefined {
  const arn = /^arn:[^:]*:kms:[^:]*:[^:]*:(key\/.+|alias\/.+)$/.exec(ref)?.[1];
  const id = arn ?? ref;
  const keyId = id.startsWith('alias/')
    ? doc.state.aliases.find((a) => a.aliasName === id)?.targetKeyId
    : id.replace(/^key\//, '');
  return doc.state.keys.find((k) => k.keyId === keyId);
}

async function lockPid(fs: KeyStoreFs, dataDir: string): Promise<number | undefined> {
  return (await liveLockOwner(fs, join(dataDir, LOCK_FILE)))?.pid;
}
