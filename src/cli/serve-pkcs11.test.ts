/**
 * `kubekms serve --root-key-provider pkcs11` as users run it (a spawned process, SoftHSM2 as the HSM): it serves
 * the KMS v2 socket end to end, restarts on the same keystore with the same key_id, and the keystore it sealed
 * cannot be opened with a file root key.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiserverLikeClient } from '../kmsv2/testing/apiserver-client.ts';
import { ProviderFixtures } from '../rootkey/testing/providers.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));

let fixtures: ProviderFixtures;
let dir: string;
beforeAll(async () => {
  fixtures = await ProviderFixtures.create();
  dir = await mkdtemp('/tmp/kubekms-hsm-serve-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await fixtures?.cleanup();
});

interface Started {
  child: ChildProcessWithoutNullStreams;
  out: () => string;
  exit: Promise<number | null>;
}

function run(args: string[], env: Record<string, string> = {}): Started {
  const child = spawn(process.execPath, [MAIN, 'serve', ...args], {
    env: { ...process.env, ...fixtures.hsm.env, ...env },
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    out += c.toString();
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

describe('kubekms serve --root-key-provider pkcs11 (spawned)', () => {
  it('serves the KMS v2 socket, restarts with the same keystore, and refuses a file root key on it', {
    timeout: 180_000,
  }, async () => {
    const socket = join(dir, 'kms.sock');
    const common = ['--data-dir', join(dir, 'data'), '--kms-socket', socket, '--health-listen', ''];
    // First start: PIN from the environment (no --pkcs11-pin-file).
    const args = fixtures.serveArgs('pkcs11');
    const withoutPinFile = args.slice(0, args.indexOf('--pkcs11-pin-file'));
    const first = run([...common, ...withoutPinFile], { KUBEKMS_PKCS11_PIN: fixtures.hsm.pin });
    await expect.poll(() => first.out().includes('kmsv2 plugin serving'), { timeout: 60_000 }).toBe(true);
    let c = new ApiserverLikeClient(socket);
    const s1 = await c.status();
    expect(s1.healthz).toBe('ok');
    const seed = randomBytes(32);
    const enc = await c.encrypt(seed, s1.keyId);
    expect((await c.decrypt(enc.ciphertext, enc.keyId)).equals(seed)).toBe(true);
    c.close();
    first.child.kill('SIGTERM');
    expect(await first.exit).toBe(0);
    expect(first.out()).toMatch(
      /"rootKey":"pkcs11:libsofthsm2\.so slot \d+ token kubekms-test label kubekms-root"/,
    );
    expect(first.out()).not.toContain(fixtures.hsm.pin);

    // Restart on the same keystore, PIN from the 0600 file: same key_id, the earlier ciphertext decrypts.
    const second = run([...common, ...args]);
    await expect.poll(() => second.out().includes('kmsv2 plugin serving'), { timeout: 60_000 }).toBe(true);
    c = new ApiserverLikeClient(socket);
    expect((await c.status()).keyId).toBe(s1.keyId);
    expect((await c.decrypt(enc.ciphertext, enc.keyId)).equals(seed)).toBe(true);
    c.close();
    second.child.kill('SIGTERM');
    expect(await second.exit).toBe(0);

    // The same keystore with a file root key: refused at start, naming the configured key.
    const third = run([...common, ...fixtures.serveArgs('file')]);
    expect(await third.exit).toBe(1);
    expect(third.out()).toMatch(
      /kubekms: keystore: .*keystore\.db is sealed under a different root key than file:.*root\.key \(fingerprint [0-9a-f]{16}\); start kubekms with the root key that created this store/,
    );
  });
});
