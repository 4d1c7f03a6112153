import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RootKeyError } from './errors.ts';
import { readPkcs11Pin } from './pkcs11-pin.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp('/tmp/kubekms-hsm-pin-');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function pinFile(content: string, mode = 0o600): Promise<string> {
  const path = join(dir, 'pin');
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  return path;
}

describe('readPkcs11Pin', () => {
  it('reads the file (one trailing newline dropped) and prefers it over the environment', async () => {
    expect(await readPkcs11Pin(await pinFile('1234-abcd\n'), { KUBEKMS_PKCS11_PIN: 'env' })).toBe(
      '1234-abcd',
    );
    expect(await readPkcs11Pin(await pinFile('12 34'), {})).toBe('12 34');
  });

  it('falls back to KUBEKMS_PKCS11_PIN, and names both sources when neither is set', async () => {
    expect(await readPkcs11Pin(undefined, { KUBEKMS_PKCS11_PIN: 'from-env' })).toBe('from-env');
    expect(await readPkcs11Pin('', { KUBEKMS_PKCS11_PIN: 'from-env' })).toBe('from-env');
    await expect(readPkcs11Pin(undefined, { KUBEKMS_PKCS11_PIN: '' })).rejects.toThrow(
      'rootkey: no PKCS#11 PIN: pass --pkcs11-pin-file PATH (mode 0600) or set KUBEKMS_PKCS11_PIN in the environment',
    );
  });

  it.each(['644', '640', '604'])('refuses a PIN file of mode 0%s, naming the fix', async (octal) => {
    const path = await pinFile('secret-pin', Number.parseInt(octal, 8));
    const err = await readPkcs11Pin(path, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RootKeyError);
    expect((err as Error).message).toBe(
      `rootkey: PIN file ${path} has mode 0${octal}, so group or others can access it; run chmod 600 ${path}`,
    );
  });

  it('refuses empty, multi-line, oversized, missing and directory PIN files without echoing content', async () => {
    const cases: [string, RegExp][] = [[await pinFile('\n'), /is empty$/]];
    for (const [path, message] of cases) await expect(readPkcs11Pin(path, {})).rejects.toThrow(message);
    const multi = await pinFile('line-one\nline-two\n');
    const err = await readPkcs11Pin(multi, {}).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/holds more than one line$/);
    expect((err as Error).message).not.toContain('line-one');
    await expect(readPkcs11Pin(await pinFile('x'.repeat(300)), {})).rejects.toThrow(/holds 300 bytes/);
    await expect(readPkcs11Pin(join(dir, 'absent'), {})).rejects.toThrow(/absent: ENOENT$/);
    await expect(readPkcs11Pin(dir, {})).rejects.toThrow(/is not a regular file$/);
  });
});
