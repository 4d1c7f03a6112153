/**
 * `restore --shared-state` against the in-memory API: records written in the engine's order and authenticated
 * under the root key, a namespace with other records or a live instance refused, and a restore interrupted after
 * any number of writes finished by running it again (for a root-key and an escrow backup).
 */
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import type { KmsStateRecord } from '../api/kinds.ts';
import { fromObject } from '../api/state-records.ts';
import type { RootKey } from '../engine/ports.ts';
import { keyMaterialAad, type StoreState } from '../engine/records.ts';
import { createBackup, type Escrow } from '../keystore/backup.ts';
import { FileKeyStore } from '../keystore/file-keystore.ts';
import { RecordAuthRing } from '../keystore/record-auth-ring.ts';
import { fillSampleStore, tempDir } from '../keystore/testing.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { newScryptParams } from '../rootkey/passphrase-key.ts';
import { restoreSharedState } from './restore-shared.ts';
import { FakeStateApi } from './testing.ts';

const PASSPHRASE = 'correct horse battery staple';

const dir = tempDir('kubekms-restore-shared-', 'each');
let rootKey: RootKey;
let state: StoreState;
beforeEach(async () => {
  rootKey = await FileRootKey.create(join(dir(), 'root.key'));
  state = await fillSampleStore(() => new FileKeyStore({ dataDir: join(dir(), 'data'), rootKey }), rootKey);
});

async function backupText(escrow?: Escrow): Promise<Uint8Array> {
  const { text } = await createBackup({
    dataDir: join(dir(), 'data'),
    rootKey,
    ...(escrow ? { escrow } : {}),
  });
  return new TextEncoder().encode(text);
}

/** The state the objects hold, each checked under the root key as an instance checks it. */
async function stateOf(objects: Iterable<KmsStateRecord>, key: RootKey): Promise<StoreState> {
  const ring = await RecordAuthRing.create(key, 'refuse');
  const list = [...objects];
  await ring.learn(list.map((o) => (o.spec as { auth?: unknown }).auth));
  const out: { keys: unknown[]; aliases: unknown[]; grants: unknown[] } = {
    keys: [],
    aliases: [],
    grants: [],
  };
  for (const o of list) {
    const d = fromObject(o, ring);
    (d.kind === 'Key' ? out.keys : d.kind === 'Alias' ? out.aliases : out.grants).push(d.record);
  }
  return out as unknown as StoreState;
}

/**
 * A FakeStateApi whose client "dies" at the create after `n` successful ones: before sending it, or — with
 * `lostReply` — after the API server stored the object but before the reply arrived.
 */
class DyingApi extends FakeStateApi {
  left: number;
  readonly lostReply: boolean;
  constructor(left: number, lostReply = false) {
    super('kubekms');
    this.left = left;
    this.lostReply = lostReply;
  }
  override async create(body: KmsStateRecord): Promise<KmsStateRecord> {
    if (this.left-- > 0) return super.create(body);
    if (this.lostReply) await super.create(body);
    throw new Error('killed');
  }
}

describe('restore into an empty shared state', () => {
  it('writes every record, keys before grants before aliases, authenticated under the root key', async () => {
    const api = new FakeStateApi();
    const r = await restoreSharedState({ backup: await backupText(), backupFile: 'b.json', api, rootKey });
    expect(r).toMatchObject({ created: 4, kept: 0, summary: { keys: 2, aliases: 1, grants: 1 } });
    expect(
      api.calls.filter((c) => c.startsWith('create')).map((c) => c.split(' ')[1]!.split('-')[0]),
    ).toEqual(['key', 'key', 'grant', 'alias']);
    expect(await stateOf(api.objects.values(), rootKey)).toEqual(state);
  });

  it('refuses a namespace holding other records, naming them, and writes nothing', async () => {
    const api = new FakeStateApi();
    await restoreSharedState({ backup: await backupText(), backupFile: 'b.json', api, rootKey });
    const spare = new FakeStateApi();
    const changed = structuredClone(
      [...api.objects.values()].find((o) => o.metadata.name.startsWith('key-'))!,
    );
    (changed.spec as unknown as { record: { description: string } }).record.description = 'edited';
    await spare.create(changed);
    await expect(
      restoreSharedState({ backup: await backupText(), backupFile: 'b.json', api: spare, rootKey }),
    ).rejects.toThrow(
      new RegExp(
        `restore: namespace kubekms is not empty: it holds 1 KmsStateRecord\\(s\\) that are not this backup's \\(${changed.metadata.name}\\)`,
      ),
    );
    expect(spare.calls.filter((c) => c.startsWith('create')).length).toBe(1);
  });

  it('refuses while an instance heartbeat is live', async () => {
    const api = new FakeStateApi();
    await api.createLease({
      metadata: {
        name: 'kubekms-instance-a',
        namespace: 'kubekms',
        labels: { 'kubekms.io/role': 'instance' },
      },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 30, renewTime: new Date().toISOString() },
    });
    await expect(
      restoreSharedState({ backup: await backupText(), backupFile: 'b.json', api, rootKey }),
    ).rejects.toThrow(
      /kubekms instance\(s\) a in namespace kubekms are live .*: stop every kubekms instance/,
    );
    expect(api.objects.size).toBe(0);
  });

  const escrowed = () => ({ passphrase: PASSPHRASE, kdf: newScryptParams({ N: 2 ** 14, r: 8, p: 1 }) });
  it.each([
    ['a root-key backup', undefined, false],
    ['an escrow backup', escrowed(), false],
    ['a root-key backup whose last create was stored but its reply lost', undefined, true],
    ['an escrow backup whose last create was stored but its reply lost', escrowed(), true],
  ] as const)(
    '%s, interrupted after any number of writes, is finished by running it again',
    async (_, escrow, lostReply) => {
      const backup = await backupText(escrow);
      const keys = escrow ? { escrow: { passphrase: PASSPHRASE } } : {};
      for (let n = 0; n < 4; n++) {
        const api = new DyingApi(n, lostReply);
        const stored = lostReply ? n + 1 : n;
        await expect(
          restoreSharedState({ backup, backupFile: 'b.json', api, rootKey, ...keys }),
        ).rejects.toThrow(/restore: creating KmsStateRecord kubekms\/.*: killed/);
        expect(api.objects.size).toBe(stored);
        api.left = Number.POSITIVE_INFINITY;
        const r = await restoreSharedState({ backup, backupFile: 'b.json', api, rootKey, ...keys });
        expect(r).toMatchObject({ created: 4 - stored, kept: stored });
        const back = await stateOf(api.objects.values(), rootKey);
        expect(back.aliases).toEqual(state.aliases);
        expect(back.grants).toEqual(state.grants);
        for (const [i, k] of back.keys.entries())
          for (const [j, v] of k.versions.entries()) {
            const aad = keyMaterialAad(k.keyId, v.version);
            const now = await rootKey.unwrap(v.wrappedMaterial, aad);
            expect(now.equals(await rootKey.unwrap(state.keys[i]!.versions[j]!.wrappedMaterial, aad))).toBe(
              true,
            );
          }
      }
    },
  );
});
