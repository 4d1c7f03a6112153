import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import { RootKeyMismatchError } from '../rootkey/errors.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { canonicalJson, RecordAuthKey } from './record-auth.ts';
import { alias, fullGrant, fullKey } from './testdata/sample-records.ts';

let dir: string;
let rootKey: RootKey;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-record-auth-'));
  rootKey = await FileRootKey.create(join(dir, 'root.key'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('canonicalJson', () => {
  it('sorts object keys at every level and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: [{ y: null, x: 'é' }, 2], '': true })).toBe(
      '{"":true,"a":[{"x":"é","y":null},2],"b":1}',
    );
    expect(canonicalJson(JSON.parse('{"__proto__": "p", "1": 1}'))).toBe('{"1":1,"__proto__":"p"}');
  });
});

describe('RecordAuthKey', () => {
  it('unwraps only under the root key that wrapped it, and prints as [secret]', async () => {
    const { key, wrapped } = await RecordAuthKey.generate(rootKey);
    const again = await RecordAuthKey.unwrap(rootKey, wrapped);
    const k = await fullKey(rootKey, 'k1');
    expect(again.authOf({ kind: 'Key', record: k })).toEqual(key.authOf({ kind: 'Key', record: k }));
    const other = await FileRootKey.create(join(dir, 'other.key'));
    await expect(RecordAuthKey.unwrap(other, wrapped)).rejects.toBeInstanceOf(RootKeyMismatchError);
    expect(`${key}`).toBe('[secret]');
    expect(JSON.stringify({ key })).toBe('{"key":"[secret]"}');
    expect(inspect(key)).toBe('[secret]');
  });

  it('binds the kind and every field; equal content in another object gives the same auth', async () => {
    const { key } = await RecordAuthKey.generate(rootKey);
    const k = await fullKey(rootKey, 'k1');
    const auth = key.authOf({ kind: 'Key', record: k });
    expect(auth.length).toBe(32);
    expect(key.verify({ kind: 'Key', record: { ...k } }, auth)).toBe(true);
    expect(key.verify({ kind: 'Key', record: { ...k, revision: k.revision + 1 } }, auth)).toBe(false);
    expect(key.verify({ kind: 'Key', record: { ...k, tags: { ...k.tags, x: '' } } }, auth)).toBe(false);
    expect(key.verify({ kind: 'Key', record: k }, auth.subarray(0, 31))).toBe(false);
    const a = alias('alias/x', 'k1');
    const g = fullGrant('g1', 'k1');
    expect(key.authOf({ kind: 'Alias', record: a })).not.toEqual(key.authOf({ kind: 'Grant', record: g }));
    const other = (await RecordAuthKey.generate(rootKey)).key;
    expect(other.verify({ kind: 'Key', record: { ...k } }, auth)).toBe(false);
  });

  it('seals the generation and the ordered auths', async () => {
    const { key } = await RecordAuthKey.generate(rootKey);
    const [x, y] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)];
    const seal = key.seal(5, { keys: [x, y], aliases: [], grants: [] });
    expect(key.verifySeal(5, { keys: [x, y], aliases: [], grants: [] }, seal)).toBe(true);
    expect(key.verifySeal(6, { keys: [x, y], aliases: [], grants: [] }, seal)).toBe(false);
    expect(key.verifySeal(5, { keys: [y, x], aliases: [], grants: [] }, seal)).toBe(false);
    expect(key.verifySeal(5, { keys: [x], aliases: [y], grants: [] }, seal)).toBe(false);
  });
});
