/** `kubekms backup`, `backup verify` and `restore` as processes: exit codes, messages, files. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import { fillSampleStore, tempDir } from '../keystore/testing.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const PASSPHRASE = 'an escrow passphrase for the vault';

const tmp = tempDir('kubekms-backup-cli-');
let dir: string;
let dataDir: string;
let keyFile: string;
beforeAll(async () => {
  dir = tmp();
  dataDir = join(dir, 'data');
  keyFile = join(dir, 'root.key');
  const rootKey = await FileRootKey.create(keyFile);
  await FileRootKey.create(join(dir, 'offsite.key'));
  await fillSampleStore(() => new SqliteKeyStore({ dataDir, rootKey }), rootKey);
});

/** The key ids of the store restored into `target`, opened under the off-site root key. */
async function restoredKeyIds(target: string): Promise<string[]> {
  const store = new SqliteKeyStore({
    dataDir: target,
    rootKey: await FileRootKey.load(join(dir, 'offsite.key')),
  });
  const state = await store.open();
  await store.close();
  return state.keys.map((k) => k.keyId);
}

const run = (args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', ...env },
    timeout: 60_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
/** `kubekms backup --out OUT` of the sample store under its root key, with `more` flags. */
const backup = (out: string, more: string[] = [], env: Record<string, string> = {}) =>
  run(['backup', '--out', out, '--data-dir', dataDir, '--root-key-file', keyFile, ...more], env);
/** `kubekms restore OUT` into `target` under the off-site root key, with `more` flags. */
const restoreOffsite = (out: string, target: string, more: string[]) =>
  run(['restore', out, '--data-dir', target, '--root-key-file', join(dir, 'offsite.key'), ...more]);
const SUMMARY =
  '2 keys \\(4 versions\\), 1 alias, 1 grant, generation 1, taken \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z, sealed by';

describe('kubekms backup / restore', () => {
  it('backs up under the root key, never overwrites, and verifies', async () => {
    const out = join(dir, 'b1.json');
    const b = backup(out);
    expect(b).toMatchObject({ code: 0, err: '' });
    expect(b.out).toMatch(new RegExp(`^backup written to ${out}: ${SUMMARY} the root key\\n$`));
    expect((await stat(out)).mode & 0o777).toBe(0o600);
    const again = backup(out);
    expect(again).toMatchObject({
      code: 1,
      err: `kubekms: backup: cannot create ${out}: it exists; never overwritten\n`,
    });
    const v = run(['backup', 'verify', out, '--root-key-file', keyFile]);
    expect(v.out).toMatch(
      new RegExp(`^backup ${out}: ok: ${SUMMARY} the root key; every record authenticated`),
    );
    expect(v.code).toBe(0);
  });

  it('escrow: backs up under a passphrase, verifies and restores under another root key without the first', async () => {
    const out = join(dir, 'b2.json');
    const env = { KUBEKMS_ESCROW_PASSPHRASE: PASSPHRASE };
    expect(backup(out, [], env).code).toBe(0);
    const v = run(['backup', 'verify', out], env);
    expect(v.out).toMatch(new RegExp(`^backup ${out}: ok: ${SUMMARY} an escrow passphrase \\(scrypt\\)`));
    const pass = join(dir, 'pass');
    await writeFile(pass, `${PASSPHRASE}\n`, { mode: 0o600 });
    const target = join(dir, 'restored');
    const r = restoreOffsite(out, target, ['--escrow-passphrase-file', pass]);
    expect(r.err).toBe('');
    expect(r.out).toMatch(new RegExp(`^restored ${out} into ${target}: ${SUMMARY} an escrow passphrase`));
    expect(r.code).toBe(0);
    expect(await restoredKeyIds(target)).toEqual(['k1', 'k2']);
  });

  it('refuses a data dir that is not empty, a missing --out, a wrong passphrase, --dev', async () => {
    const out = join(dir, 'b3.json');
    expect(backup(out).code).toBe(0);
    const busy = join(dir, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'notes'), 'x');
    const r = run(['restore', out, '--data-dir', busy, '--root-key-file', keyFile]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/restore: data dir .*busy is not empty \(it holds notes\)/);
    expect(await readdir(busy)).toEqual(['notes']);
    expect(run(['backup', '--data-dir', dataDir, '--root-key-file', keyFile])).toMatchObject({
      code: 2,
      err: 'kubekms: backup: --out FILE is required\n',
    });
    expect(run(['restore', out, '--data-dir', join(dir, 'x'), '--dev']).code).toBe(2);
    const escrowed = join(dir, 'b4.json');
    const env = { KUBEKMS_ESCROW_PASSPHRASE: PASSPHRASE };
    expect(backup(escrowed, [], env).code).toBe(0);
    const wrong = run(['backup', 'verify', escrowed], {
      KUBEKMS_ESCROW_PASSPHRASE: 'a different passphrase',
    });
    expect(wrong).toMatchObject({ code: 1 });
    expect(wrong.err).toMatch(/wrong escrow passphrase \(or the backup was altered\)/);
  });

  it('escrow to a recipient: openssl X25519 keys; verify without the private key; restore with it; no material in the output', async () => {
    const key = join(dir, 'escrow.key');
    const pub = join(dir, 'escrow.pub');
    execFileSync('openssl', ['genpkey', '-algorithm', 'X25519', '-out', key]);
    execFileSync('chmod', ['600', key]);
    execFileSync('openssl', ['pkey', '-in', key, '-pubout', '-out', pub]);
    const out = join(dir, 'b5.json');
    const b = backup(out, ['--escrow-recipient', pub]);
    expect(b).toMatchObject({ code: 0, err: '' });
    expect(b.out).toMatch(
      new RegExp(`^backup written to ${out}: ${SUMMARY} an escrow recipient \\(X25519\\)\\n$`),
    );
    const blind = run(['backup', 'verify', out, '--escrow-recipient', pub]);
    expect(blind.out).toMatch(
      /: decodes: 2 keys \(4 versions\).* \(recipient [0-9a-f]{16}, the key in .*escrow\.pub\); records and key material not checked \(they need the private key: --escrow-key\)\n$/,
    );
    expect(blind.code).toBe(0);
    const other = join(dir, 'other.pub');
    execFileSync('sh', ['-c', `openssl genpkey -algorithm X25519 | openssl pkey -pubout -out ${other}`]);
    const mismatch = run(['backup', 'verify', out, '--escrow-recipient', other]);
    expect(mismatch.code).toBe(1);
    expect(mismatch.err).toMatch(
      /--escrow-recipient: the backup is sealed to recipient [0-9a-f]{16}, not to .*other\.pub/,
    );
    const full = run(['backup', 'verify', out, '--escrow-key', key]);
    expect(full.out).toMatch(
      /: ok: .* an escrow recipient \(X25519\); every record authenticated, every key version unwraps/,
    );
    const target = join(dir, 'from-recipient');
    const r = restoreOffsite(out, target, ['--escrow-key', key]);
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(await restoredKeyIds(target)).toEqual(['k1', 'k2']);
    execFileSync('chmod', ['644', key]);
    const loose = run(['backup', 'verify', out, '--escrow-key', key]);
    expect(loose.err).toMatch(/--escrow-key .*escrow\.key has mode 0644/);
    const both = backup(join(dir, 'b6.json'), ['--escrow-recipient', pub], {
      KUBEKMS_ESCROW_PASSPHRASE: PASSPHRASE,
    });
    expect(both).toMatchObject({
      code: 2,
      err: 'kubekms: backup: --escrow-recipient and an escrow passphrase: give one of them\n',
    });
  });
});
