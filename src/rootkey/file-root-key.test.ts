import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError, RootKeyExistsError, RootKeyMismatchError } from './errors.ts';
import { FileRootKey } from './file-root-key.ts';

const aad = new TextEncoder().encode('kubekms/test/aad');
const otherAad = new TextEncoder().encode('kubekms/test/aad2');
const keyBytes = Buffer.alloc(32, 0).map((_, i) => i + 1);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-rootkey-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function writeKeyFile(name: string, content: Uint8Array | string, mode = 0o600): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  return path;
}

const secret = (text: string) => new SecretBytes(new TextEncoder().encode(text));
const plain = (s: SecretBytes) => new TextDecoder().decode(s.unsafeBytes());

describe('FileRootKey wrap/unwrap', () => {
  it('round-trips and uses a fresh nonce each time', async () => {
    const key = await FileRootKey.create(join(dir, 'root.key'));
    const a = await key.wrap(secret('material'), aad);
    const b = await key.wrap(secret('material'), aad);
    expect(a[0]).toBe(0x01);
    expect(a.length).toBe(1 + 12 + 8 + 16);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
    expect(plain(await key.unwrap(a, aad))).toBe('material');
    expect(plain(await key.unwrap(b, aad))).toBe('material');
  });

  it('round-trips empty and large plaintexts', async () => {
    const key = await FileRootKey.create(join(dir, 'root.key'));
    expect((await key.unwrap(await key.wrap(new SecretBytes(new Uint8Array(0)), aad), aad)).length).toBe(0);
    const big = new Uint8Array(10_000).map((_, i) => i & 0xff);
    const back = await key.unwrap(await key.wrap(SecretBytes.copyOf(big), aad), aad);
    expect(Buffer.from(back.unsafeBytes()).equals(Buffer.from(big))).toBe(true);
  });

  it('fails with RootKeyMismatchError on a wrong AAD', async () => {
    const key = await FileRootKey.create(join(dir, 'root.key'));
    const wrapped = await key.wrap(secret('material'), aad);
    await expect(key.unwrap(wrapped, otherAad)).rejects.toBeInstanceOf(RootKeyMismatchError);
  });

  it('fails with RootKeyMismatchError under another key', async () => {
    const a = await FileRootKey.create(join(dir, 'a.key'));
    const b = await FileRootKey.create(join(dir, 'b.key'));
    const wrapped = await a.wrap(secret('material'), aad);
    const err = await b.unwrap(wrapped, aad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyMismatchError);
    expect((err as Error).message).toMatch(/^rootkey: /);
  });

  it('fails with RootKeyMismatchError on any altered byte, a wrong version byte or a short blob', async () => {
    const key = await FileRootKey.create(join(dir, 'root.key'));
    const wrapped = await key.wrap(secret('material'), aad);
    for (let i = 0; i < wrapped.length; i++) {
      const bad = Uint8Array.from(wrapped);
      bad[i]! ^= 0x01;
      await expect(key.unwrap(bad, aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    }
    await expect(key.unwrap(wrapped.subarray(0, 28), aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
    await expect(key.unwrap(new Uint8Array(0), aad)).rejects.toBeInstanceOf(RootKeyMismatchError);
  });

  it('describes itself by path and fingerprint only', async () => {
    const path = await writeKeyFile('root.key', keyBytes);
    const key = await FileRootKey.load(path);
    expect(key.description).toMatch(new RegExp(`^file:${path} \\(fingerprint [0-9a-f]{16}\\)$`));
    const hexKey = Buffer.from(keyBytes).toString('hex');
    const printed = `${key.description} ${JSON.stringify(key)} ${inspect(key, { showHidden: true, depth: 5 })}`;
    expect(printed).not.toContain(hexKey);
    expect(printed).not.toContain(Buffer.from(keyBytes).toString('base64'));
  });
});

describe('FileRootKey.load formats', () => {
  it('reads raw, hex (with and without newline) and base64 files as the same key', async () => {
    const files = [
      await writeKeyFile('raw.key', keyBytes),
      await writeKeyFile('hex.key', Buffer.from(keyBytes).toString('hex')),
      await writeKeyFile('hexnl.key', `${Buffer.from(keyBytes).toString('hex').toUpperCase()}\n`),
      await writeKeyFile('b64.key', `${Buffer.from(keyBytes).toString('base64')}\n`),
      await writeKeyFile('b64nonl.key', Buffer.from(keyBytes).toString('base64')),
    ];
    const keys = await Promise.all(files.map((f) => FileRootKey.load(f)));
    const wrapped = await keys[0]!.wrap(secret('same key'), aad);
    const fingerprints = new Set(keys.map((k) => k.description.replace(/^.*fingerprint /, '')));
    expect(fingerprints.size).toBe(1);
    for (const k of keys) expect(plain(await k.unwrap(wrapped, aad))).toBe('same key');
  });

  it('refuses wrong sizes and malformed text without echoing content', async () => {
    const cases = [
      await writeKeyFile('short.key', keyBytes.subarray(0, 31)),
      await writeKeyFile('long.key', Buffer.concat([keyBytes, Buffer.from([1])])),
      await writeKeyFile('empty.key', ''),
      await writeKeyFile('badhex.key', `${'zz'.repeat(32)}\n`),
      await writeKeyFile('shorthex.key', 'ab'.repeat(31)),
      await writeKeyFile('b64-16.key', Buffer.alloc(16, 7).toString('base64')),
      await writeKeyFile('huge.key', Buffer.alloc(4096, 7)),
    ];
    for (const path of cases) {
      const err = await FileRootKey.load(path).catch((e: unknown) => e);
      expect(err, path).toBeInstanceOf(RootKeyError);
      expect((err as Error).message).toMatch(/^rootkey: root key file .* expected 32 raw bytes/);
      expect((err as Error).message).not.toContain('zz');
    }
  });

  it('refuses an all-zero key', async () => {
    const path = await writeKeyFile('zero.key', Buffer.alloc(32));
    await expect(FileRootKey.load(path)).rejects.toThrow(/all-zero key/);
  });

  it('refuses a missing file and a directory, naming the path', async () => {
    await expect(FileRootKey.load(join(dir, 'absent.key'))).rejects.toThrow(/absent\.key: ENOENT/);
    await expect(FileRootKey.load(dir)).rejects.toThrow(/is not a regular file/);
  });
});

describe('FileRootKey.load permissions', () => {
  it.each(['644', '640', '604', '660', '610', '601', '666'])('refuses mode 0%s', async (octal) => {
    const mode = Number.parseInt(octal, 8);
    const path = await writeKeyFile('root.key', keyBytes, mode);
    const err = await FileRootKey.load(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyError);
    const message = (err as Error).message;
    expect(message).toContain(path);
    expect(message).toContain(`mode 0${mode.toString(8)}`);
    expect(message).toContain(`chmod 600 ${path}`);
  });

  it.each(['600', '400', '700'])('accepts mode 0%s', async (octal) => {
    const mode = Number.parseInt(octal, 8);
    const path = await writeKeyFile('root.key', keyBytes, mode);
    await expect(FileRootKey.load(path)).resolves.toBeInstanceOf(FileRootKey);
  });
});

describe('FileRootKey.create', () => {
  it('writes 32 random bytes with mode 0600 that load back as the same key', async () => {
    const path = join(dir, 'root.key');
    const created = await FileRootKey.create(path);
    const info = await stat(path);
    expect(info.mode & 0o777).toBe(0o600);
    expect((await readFile(path)).length).toBe(32);
    const loaded = await FileRootKey.load(path);
    expect(loaded.description).toBe(created.description);
    expect(plain(await loaded.unwrap(await created.wrap(secret('x'), aad), aad))).toBe('x');
  });

  it('never overwrites an existing file', async () => {
    const path = await writeKeyFile('root.key', keyBytes);
    const err = await FileRootKey.create(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyExistsError);
    expect((err as Error).message).toBe(`rootkey: ${path} already exists; refusing to overwrite a root key`);
    expect(Buffer.from(await readFile(path)).equals(Buffer.from(keyBytes))).toBe(true);
  });

  it('creates different keys each time', async () => {
    const a = await FileRootKey.create(join(dir, 'a.key'));
    const b = await FileRootKey.create(join(dir, 'b.key'));
    expect(a.description.replace(/^.*fingerprint /, '')).not.toBe(
      b.description.replace(/^.*fingerprint /, ''),
    );
  });
});
