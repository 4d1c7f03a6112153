import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KmsStateRecord } from '../api/kinds.ts';
import { toObject } from '../api/state-records.ts';
import type { RootKey } from '../engine/ports.ts';
import { RecordAuthRing } from '../keystore/record-auth-ring.ts';
import { alias, minimalKey } from '../keystore/testdata/sample-records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { stateRecordsRow } from './state-records-check.ts';

let dir: string;
let rootKey: RootKey;
let objects: KmsStateRecord[];
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-doctor-records-'));
  rootKey = await FileRootKey.create(join(dir, 'root.key'));
  // Two writers (two instances) under the same root key.
  const [w1, w2] = [await RecordAuthRing.create(rootKey), await RecordAuthRing.create(rootKey)];
  objects = [
    toObject({ kind: 'Key', record: await minimalKey(rootKey, 'k1') }, w1, 'kubekms'),
    toObject({ kind: 'Key', record: await minimalKey(rootKey, 'k2') }, w2, 'kubekms'),
    toObject({ kind: 'Alias', record: alias('alias/a', 'k1') }, w2, 'kubekms'),
  ];
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('stateRecordsRow', () => {
  it('is ok when a holder of the root key wrote every record', async () => {
    expect(await stateRecordsRow(objects, rootKey, 'kubekms')).toEqual({
      check: 'shared records',
      status: 'ok',
      detail: '3 KmsStateRecords in kubekms, every one written by a root key holder',
    });
  });

  it('FAILs naming each record edited through the API or carrying an auth made for another record', async () => {
    const [k1, k2, a] = objects as [KmsStateRecord, KmsStateRecord, KmsStateRecord];
    const policy = { statements: [{ effect: 'Allow', principals: ['*'], actions: ['kms:*'] }] };
    const edited = { ...k1, spec: { ...k1.spec, record: { ...(k1.spec.record as object), policy } } };
    const swapped = { ...k2, spec: { ...k2.spec, auth: a.spec.auth } };
    const r = await stateRecordsRow([edited, swapped, a], rootKey, 'kubekms');
    expect(r.status).toBe('FAIL');
    expect(r.detail).toBe(
      '2 of 3 KmsStateRecords in kubekms refused: ' +
        'KmsStateRecord key-k1: spec.auth: not written by a holder of the root key (its auth does not match its content); ' +
        'KmsStateRecord key-k2: spec.auth: not written by a holder of the root key (its auth does not match its content)',
    );
  });

  it('warns about records without spec.auth (written before record authentication)', async () => {
    const [k1, k2] = objects as [KmsStateRecord, KmsStateRecord];
    const { auth: _auth, ...bare } = k2.spec;
    const r = await stateRecordsRow([k1, { ...k2, spec: bare }], rootKey, 'kubekms');
    expect(r).toEqual({
      check: 'shared records',
      status: 'warn',
      detail:
        '1 of 2 KmsStateRecords in kubekms have no spec.auth (written before ADR 0013, not authenticated): key-k2',
    });
  });

  it('FAILs records whose writer key another root key wrapped', async () => {
    const other = await FileRootKey.create(join(dir, 'other.key'));
    const r = await stateRecordsRow(objects.slice(0, 1), other, 'kubekms');
    expect(r.detail).toMatch(
      /^1 of 1 KmsStateRecord in kubekms refused: .*its writer key is not wrapped by this root key/,
    );
  });
});
