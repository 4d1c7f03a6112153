/**
 * `kubekms rootkey rotate`: the flags of the new root key (usage errors name the --to-* flag), and rotations of a
 * real keystore file → file (through the binary), file → pkcs11 and pkcs11 → pkcs11 (SoftHSM2), every key
 * version unwrapping to the same material under the new root and the old root refused afterwards.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RootKey } from '../engine/ports.ts';
import type { StoreState } from '../engine/records.ts';
import { SqliteKeyStore } from '../keystore/sqlite-keystore.ts';
import { materials } from '../keystore/testdata/rotation-checks.ts';
import { alias, fullKey, minimalKey } from '../keystore/testdata/sample-records.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { Pkcs11RootKey } from '../rootkey/pkcs11-root-key.ts';
import { createSoftHsm, SOFTHSM_MODULE, type SoftHsm } from '../rootkey/testing/softhsm.ts';
import { parseFlags, UsageError } from './flags.ts';
import {
  newRootFromFlags,
  ROTATE_FLAGS,
  rotateCommand,
  STAGE_FLAGS,
  stageCommand,
} from './rootkey-rotate-command.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
let hsm: SoftHsm;
let dir: string;
beforeAll(async () => {
  hsm = await createSoftHsm(['kubekms-a', 'kubekms-b']);
  process.env.SOFTHSM2_CONF = hsm.conf;
  dir = await mkdtemp(join(tmpdir(), 'kubekms-rootrot-cli-'));
});
afterAll(async () => {
  await hsm?.cleanup();
  await rm(dir, { recursive: true, force: true });
});

const flags = (argv: string[]) => parseFlags(ROTATE_FLAGS, argv, {}).values;
const usage = (argv: string[]): string => {
  try {
    newRootFromFlags(flags(argv));
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('rootkey stage', () => {
  it('is refused, saying what to do, when no serve answers on the data dir; it takes no current root key flags', async () => {
    const values = parseFlags(STAGE_FLAGS, ['--data-dir', dir, '--to-root-key-file', '/k'], {}).values;
    await expect(stageCommand(values, { out: () => undefined })).rejects.toThrow(
      `rootkey stage: no serve answers on ${dir}: staging is for a running serve --shared-state (or start it with --next-root-key-file or --next-pkcs11-*)`,
    );
    expect(() => parseFlags(STAGE_FLAGS, ['--root-key-file', '/k'], {})).toThrow(UsageError);
  });
});

describe('the new root key flags', () => {
  it('take a file or an HSM key, and name the --to-* flag when something is missing or conflicts', () => {
    expect(newRootFromFlags(flags(['--to-root-key-file', '/k']))).toEqual({
      provider: 'file',
      rootKeyFile: '/k',
      dev: false,
    });
    expect(usage([])).toMatch(/^rootkey rotate: the new root key is required: --to-root-key-file PATH/);
    expect(usage(['--to-root-key-file', '/k', '--to-pkcs11-module', '/m.so'])).toBe(
      '--to-root-key-file and --to-pkcs11-module: give one new root key, not both',
    );
    expect(usage(['--to-pkcs11-module', '/m.so', '--to-pkcs11-token-label', 't'])).toMatch(
      /^--to-pkcs11-key-label: required for a new root key in an HSM/,
    );
    expect(usage(['--to-pkcs11-key-label', 'l', '--to-pkcs11-token-label', 't'])).toMatch(
      /^--to-pkcs11-module: required/,
    );
    expect(
      usage([
        '--to-pkcs11-module',
        '/m.so',
        '--to-pkcs11-slot',
        '1',
        '--to-pkcs11-token-label',
        't',
        '--to-pkcs11-key-label',
        'l',
      ]),
    ).toBe('--to-pkcs11-slot and --to-pkcs11-token-label: give one, not both');
  });
});

async function fill(dataDir: string, rootKey: RootKey): Promise<StoreState> {
  const s = new SqliteKeyStore({ dataDir, rootKey });
  await s.open();
  await s.commit({
    putKeys: [await fullKey(rootKey, 'k-full'), await minimalKey(rootKey, 'k-min')],
    putAliases: [alias('alias/kubekms/secrets', 'k-min')],
  });
  await s.close();
  return reopen(dataDir, rootKey);
}

async function reopen(dataDir: string, rootKey: RootKey): Promise<StoreState> {
  const s = new SqliteKeyStore({ dataDir, rootKey });
  try {
    return await s.open();
  } finally {
    await s.close();
  }
}

function hsmArgs(prefix: '' | 'to-', label: string): string[] {
  return [
    `--${prefix}pkcs11-module`,
    SOFTHSM_MODULE,
    `--${prefix}pkcs11-token-label`,
    label === 'b' ? 'kubekms-b' : 'kubekms-a',
    `--${prefix}pkcs11-key-label`,
    `root-${label}`,
  ];
}

describe('rotations of a keystore', () => {
  it('file → file through the binary: the output names both roots and the flags to serve with', async () => {
    const dataDir = join(dir, 'file-file');
    const oldRoot = await FileRootKey.create(join(dir, 'ff-old.key'));
    const newFile = join(dir, 'ff-new.key');
    const newRoot = await FileRootKey.create(newFile);
    const before = await fill(dataDir, oldRoot);
    const args = [
      '--data-dir',
      dataDir,
      '--root-key-file',
      join(dir, 'ff-old.key'),
      '--to-root-key-file',
      newFile,
    ];
    const r = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', MAIN, 'rootkey', 'rotate', ...args],
      {
        encoding: 'utf8',
        env: { ...process.env },
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe(
      `root key rotated: 2 keys (4 versions) re-wrapped and 3 records re-authenticated in ${join(dataDir, 'keystore.db')}\n` +
        `  from: ${oldRoot.description}\n  to:   ${newRoot.description}\nstart serve with: --root-key-file ${newFile}\n`,
    );
    expect(await materials(await reopen(dataDir, newRoot), newRoot)).toEqual(
      await materials(before, oldRoot),
    );
    const again = spawnSync(
      process.execPath,
      ['--disable-warning=ExperimentalWarning', MAIN, 'rootkey', 'rotate', ...args],
      {
        encoding: 'utf8',
      },
    );
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toContain(`is already protected by ${newRoot.description}: nothing to do`);
  }, 60_000);

  it('file → pkcs11 → pkcs11 (another token), the HSM wrapping every version', async () => {
    const dataDir = join(dir, 'hsm');
    const fileRoot = await FileRootKey.create(join(dir, 'h-old.key'));
    for (const [token, label] of [
      ['kubekms-a', 'root-a'],
      ['kubekms-b', 'root-b'],
    ] as const)
      await (
        await Pkcs11RootKey.create({
          modulePath: SOFTHSM_MODULE,
          tokenLabel: token,
          keyLabel: label,
          pin: hsm.pin,
        })
      ).close();
    const before = await materials(await fill(dataDir, fileRoot), fileRoot);
    const io = () => {
      let out = '';
      return {
        io: {
          out: (s: string) => {
            out += s;
          },
          env: { KUBEKMS_PKCS11_PIN: hsm.pin },
        },
        text: () => out,
      };
    };

    const first = io();
    await rotateCommand(
      flags(['--data-dir', dataDir, '--root-key-file', join(dir, 'h-old.key'), ...hsmArgs('to-', 'a')]),
      first.io,
    );
    expect(first.text()).toContain('root key rotated: 2 keys (4 versions)');
    expect(first.text()).toContain('start serve with: --root-key-provider pkcs11 --pkcs11-module');
    const a = await Pkcs11RootKey.open({
      modulePath: SOFTHSM_MODULE,
      tokenLabel: 'kubekms-a',
      keyLabel: 'root-a',
      pin: hsm.pin,
    });
    const underA = await reopen(dataDir, a);
    for (const k of underA.keys) for (const v of k.versions) expect(v.wrappedMaterial[0]).toBe(0x02);
    expect(await materials(underA, a)).toEqual(before);
    await expect(reopen(dataDir, fileRoot)).rejects.toThrow(/is sealed under a different root key/);

    const pinFile = join(dir, 'pin-b');
    await writeFile(pinFile, `${hsm.pin}\n`, { mode: 0o600 });
    const second = io();
    await rotateCommand(
      flags([
        '--data-dir',
        dataDir,
        '--root-key-provider',
        'pkcs11',
        ...hsmArgs('', 'a'),
        ...hsmArgs('to-', 'b'),
        '--to-pkcs11-pin-file',
        pinFile,
      ]),
      second.io,
    );
    expect(second.text()).toContain(`from: ${a.description}`);
    const b = await Pkcs11RootKey.open({
      modulePath: SOFTHSM_MODULE,
      tokenLabel: 'kubekms-b',
      keyLabel: 'root-b',
      pin: hsm.pin,
    });
    expect(await materials(await reopen(dataDir, b), b)).toEqual(before);
    await expect(reopen(dataDir, a)).rejects.toThrow(/is sealed under a different root key/);
    await a.close();
    await b.close();
  }, 60_000);
});

it('has the new root flags in its help (also checked through main.test.ts)', () => {
  expect(ROTATE_FLAGS.map((f) => f.name)).toEqual(
    expect.arrayContaining(['to-root-key-file', 'to-pkcs11-pin-file', 'data-dir', 'root-key-file']),
  );
});
