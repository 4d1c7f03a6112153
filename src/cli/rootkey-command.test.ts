/** `kubekms rootkey init` and serve's root-key flags (file and pkcs11 providers), with SoftHSM2 for pkcs11. */
import { spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SecretBytes } from '../engine/secret.ts';
import { RootKeyError, RootKeyExistsError } from '../rootkey/errors.ts';
import { Pkcs11RootKey } from '../rootkey/pkcs11-root-key.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { createSoftHsm, SOFTHSM_MODULE, type SoftHsm } from '../rootkey/testing/softhsm.ts';
import { formatHelp, parseFlags, UsageError } from './flags.ts';
import { rootKeyOptionsFromFlags } from './root-key-flags.ts';
import { initRootKey, ROOTKEY_FLAGS } from './rootkey-command.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const silent = { warn: () => undefined, info: () => undefined };

let hsm: SoftHsm;
beforeAll(async () => {
  hsm = await createSoftHsm(['kubekms']);
  process.env.SOFTHSM2_CONF = hsm.conf;
});
afterAll(async () => {
  await hsm?.cleanup();
});

const serveFlags = (argv: string[], env: Record<string, string> = {}) =>
  parseFlags(SERVE_FLAGS, argv, env).values;
const usage = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

/** `rootkey init` in process: argv starts with 'init', as typed after `kubekms rootkey`. */
async function init(argv: string[], env: Record<string, string | undefined> = {}): Promise<string> {
  const [sub, ...rest] = argv;
  expect(sub).toBe('init');
  const { values, positionals } = parseFlags(ROOTKEY_FLAGS, rest, {});
  expect(positionals).toEqual([]);
  let out = '';
  await initRootKey(values, {
    env,
    out: (s) => {
      out += s;
    },
  });
  return out;
}

describe("serve's root-key flags", () => {
  it('default to the file provider with --root-key-file or --dev', () => {
    expect(rootKeyOptionsFromFlags(serveFlags(['--root-key-file', '/k']))).toEqual({
      provider: 'file',
      rootKeyFile: '/k',
      dev: false,
    });
    expect(rootKeyOptionsFromFlags(serveFlags(['--dev']))).toMatchObject({ provider: 'file', dev: true });
  });

  it('read the pkcs11 flags and their environment twins', () => {
    const byFlags = serveFlags([
      '--root-key-provider',
      'pkcs11',
      '--pkcs11-module',
      '/lib/m.so',
      '--pkcs11-slot',
      '3',
      '--pkcs11-key-label',
      'root',
      '--pkcs11-pin-file',
      '/pin',
    ]);
    expect(rootKeyOptionsFromFlags(byFlags)).toEqual({
      provider: 'pkcs11',
      dev: false,
      pkcs11: { modulePath: '/lib/m.so', slot: 3, tokenLabel: undefined, keyLabel: 'root', pinFile: '/pin' },
    });
    const byEnv = serveFlags([], {
      KUBEKMS_ROOT_KEY_PROVIDER: 'pkcs11',
      KUBEKMS_PKCS11_MODULE: '/lib/m.so',
      KUBEKMS_PKCS11_TOKEN_LABEL: 'tok',
      KUBEKMS_PKCS11_KEY_LABEL: 'root',
    });
    expect(rootKeyOptionsFromFlags(byEnv).pkcs11).toEqual({
      modulePath: '/lib/m.so',
      slot: undefined,
      tokenLabel: 'tok',
      keyLabel: 'root',
      pinFile: undefined,
    });
  });

  it('are documented in serve --help with their environment twins', () => {
    const help = formatHelp('Usage: kubekms serve', '', SERVE_FLAGS);
    for (const f of [
      '--root-key-provider <file|pkcs11>',
      '--pkcs11-module',
      '--pkcs11-slot <int>',
      '--pkcs11-token-label',
      '--pkcs11-key-label',
      '--pkcs11-pin-file',
      'KUBEKMS_PKCS11_PIN_FILE',
      'KUBEKMS_PKCS11_PIN.',
    ])
      expect(help).toContain(f);
  });

  it('refuse bad combinations with a usage error naming the flag', () => {
    const pk = ['--root-key-provider', 'pkcs11'];
    const full = [...pk, '--pkcs11-module', '/m.so', '--pkcs11-token-label', 't', '--pkcs11-key-label', 'k'];
    const cases: [string[], string][] = [
      [
        ['--pkcs11-module', '/m.so'],
        '--pkcs11-module: only with --root-key-provider pkcs11 (the provider is file)',
      ],
      [
        ['--root-key-file', '/k', '--pkcs11-key-label', 'x'],
        '--pkcs11-key-label: only with --root-key-provider pkcs11',
      ],
      [[...full, '--root-key-file', '/k'], '--root-key-file: not with --root-key-provider pkcs11'],
      [[...full, '--dev'], '--dev: creates a file root key; not with --root-key-provider pkcs11'],
      [pk, '--pkcs11-module: required with --root-key-provider pkcs11'],
      [
        [...pk, '--pkcs11-module', '/m.so', '--pkcs11-key-label', 'k'],
        '--pkcs11-slot or --pkcs11-token-label: one is required',
      ],
      [[...full, '--pkcs11-slot', '1'], '--pkcs11-slot and --pkcs11-token-label: give one, not both'],
      [
        [...pk, '--pkcs11-module', '/m.so', '--pkcs11-slot', '-1', '--pkcs11-key-label', 'k'],
        '--pkcs11-slot: a slot id is ≥ 0, got -1',
      ],
      [
        [...pk, '--pkcs11-module', '/m.so', '--pkcs11-slot', '0'],
        '--pkcs11-key-label: required with --root-key-provider pkcs11',
      ],
    ];
    for (const [argv, message] of cases)
      expect(
        usage(() => rootKeyOptionsFromFlags(serveFlags(argv))),
        argv.join(' '),
      ).toContain(message);
    expect(() => serveFlags(['--root-key-provider', 'vault'])).toThrow(
      '--root-key-provider: must be one of file, pkcs11, got "vault"',
    );
    expect(() => serveFlags([...pk, '--pkcs11-slot', 'one'])).toThrow(
      '--pkcs11-slot: expected an integer, got "one"',
    );
  });
});

describe('kubekms rootkey init', () => {
  it('--root-key-file creates a 0600 key file once', async () => {
    const path = join(hsm.dir, 'file-root.key');
    const out = await init(['init', '--root-key-file', path]);
    expect(out).toMatch(
      /^root key created: file:.*file-root\.key \(fingerprint [0-9a-f]{16}\)\nserve with: --root-key-file /,
    );
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path)).length).toBe(32);
    await expect(init(['init', '--root-key-file', path])).rejects.toBeInstanceOf(RootKeyExistsError);
    await expect(init(['init', '--root-key-file', path, '--pkcs11-key-label', 'x'])).rejects.toThrow(
      '--root-key-file and --pkcs11-key-label: give one, not both',
    );
  });

  it('creates the AES key in the token, prints how to serve with it, and refuses the label a second time', async () => {
    const argv = [
      'init',
      '--pkcs11-module',
      SOFTHSM_MODULE,
      '--pkcs11-token-label',
      'kubekms',
      '--pkcs11-key-label',
      'cli-root',
    ];
    const out = await init(argv, { KUBEKMS_PKCS11_PIN: hsm.pin });
    expect(out).toMatch(/^root key created: pkcs11:libsofthsm2\.so slot \d+ token kubekms label cli-root\n/);
    expect(out).toContain(
      `serve with: --root-key-provider pkcs11 --pkcs11-module ${SOFTHSM_MODULE} --pkcs11-token-label kubekms --pkcs11-key-label cli-root`,
    );
    expect(out).not.toContain(hsm.pin);
    const again = await init(argv, { KUBEKMS_PKCS11_PIN: hsm.pin }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(RootKeyExistsError);
    expect((again as Error).message).toMatch(
      /^rootkey: a key labelled "cli-root" in token "kubekms" \(slot \d+\) already exists/,
    );
  });

  it('reads the PIN from --pin-file and names the flags when something is missing', async () => {
    const pinFile = join(hsm.dir, 'pin');
    await writeFile(pinFile, `${hsm.pin}\n`, { mode: 0o600 });
    const slot = /slot (\d+)/.exec(
      await init([
        'init',
        '--pkcs11-module',
        SOFTHSM_MODULE,
        '--pkcs11-token-label',
        'kubekms',
        '--pkcs11-key-label',
        'by-file',
        '--pkcs11-pin-file',
        pinFile,
      ]),
    )![1]!;
    const bySlot = await init([
      'init',
      '--pkcs11-module',
      SOFTHSM_MODULE,
      '--pkcs11-slot',
      slot,
      '--pkcs11-key-label',
      'by-slot',
      '--pkcs11-pin-file',
      pinFile,
    ]);
    expect(bySlot).toContain(`--pkcs11-slot ${slot} --pkcs11-key-label by-slot`);
    await expect(
      init([
        'init',
        '--pkcs11-module',
        SOFTHSM_MODULE,
        '--pkcs11-token-label',
        'kubekms',
        '--pkcs11-key-label',
        'x',
      ]),
    ).rejects.toThrow(
      'rootkey: no PKCS#11 PIN: pass --pkcs11-pin-file PATH (mode 0600) or set KUBEKMS_PKCS11_PIN',
    );
    await expect(
      init(['init', '--pkcs11-module', SOFTHSM_MODULE, '--pkcs11-key-label', 'x']),
    ).rejects.toThrow('--pkcs11-slot or --pkcs11-token-label: one is required for a key in an HSM');
    await expect(init(['init', '--pkcs11-slot', '1', '--pkcs11-key-label', 'x'])).rejects.toThrow(
      '--pkcs11-module: required for a key in an HSM',
    );
    await expect(init(['init', '--pkcs11-module', SOFTHSM_MODULE, '--pkcs11-slot', '1'])).rejects.toThrow(
      '--pkcs11-key-label: required for a key in an HSM',
    );
    await expect(init(['init'])).rejects.toThrow(
      /pass --pkcs11-module … for a key in an HSM, or --root-key-file PATH/,
    );
  });

  it('openRootKey opens the created key with provider pkcs11 and logs its description', async () => {
    await init(
      [
        'init',
        '--pkcs11-module',
        SOFTHSM_MODULE,
        '--pkcs11-token-label',
        'kubekms',
        '--pkcs11-key-label',
        'served',
      ],
      {
        KUBEKMS_PKCS11_PIN: hsm.pin,
      },
    );
    const lines: string[] = [];
    const key = await openRootKey({
      ...rootKeyOptionsFromFlags(
        serveFlags([
          '--root-key-provider=pkcs11',
          `--pkcs11-module=${SOFTHSM_MODULE}`,
          '--pkcs11-token-label=kubekms',
          '--pkcs11-key-label=served',
        ]),
      ),
      env: { KUBEKMS_PKCS11_PIN: hsm.pin },
      dataDir: join(hsm.dir, 'data'),
      log: { warn: silent.warn, info: (obj, msg) => lines.push(`${msg} ${JSON.stringify(obj)}`) },
    });
    expect(key).toBeInstanceOf(Pkcs11RootKey);
    expect(lines).toEqual([`root key loaded {"rootKey":"${key.description}"}`]);
    const aad = Uint8Array.of(1);
    expect((await key.unwrap(await key.wrap(SecretBytes.copyOf(Uint8Array.of(9)), aad), aad)).length).toBe(1);
    await (key as Pkcs11RootKey).close();
    await expect(
      openRootKey({ provider: 'pkcs11', dev: false, dataDir: hsm.dir, log: silent }),
    ).rejects.toBeInstanceOf(RootKeyError);
    await expect(
      openRootKey({
        provider: 'pkcs11',
        pkcs11: { modulePath: SOFTHSM_MODULE, tokenLabel: 'kubekms', keyLabel: 'served' },
        env: {},
        dev: false,
        dataDir: hsm.dir,
        log: silent,
      }),
    ).rejects.toThrow(/no PKCS#11 PIN: pass --pkcs11-pin-file PATH/);
  });

  it('as a process: a wrong PIN exits 1 naming CKR_PIN_INCORRECT and not the PIN; usage errors exit 2', () => {
    const run = (args: string[], env: Record<string, string>) =>
      spawnSync(process.execPath, [MAIN, 'rootkey', ...args], {
        encoding: 'utf8',
        env: { ...process.env, ...hsm.env, ...env },
        timeout: 30_000,
      });
    const wrong = run(
      [
        'init',
        '--pkcs11-module',
        SOFTHSM_MODULE,
        '--pkcs11-token-label',
        'kubekms',
        '--pkcs11-key-label',
        'p',
      ],
      {
        KUBEKMS_PKCS11_PIN: 'not-the-pin-42',
      },
    );
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(
      /^kubekms: rootkey: login to token "kubekms" \(slot \d+\) failed: CKR_PIN_INCORRECT \(check --pkcs11-pin-file or KUBEKMS_PKCS11_PIN\)\n$/,
    );
    expect(wrong.stderr).not.toContain('not-the-pin-42');
    const ok = run(
      [
        'init',
        '--pkcs11-module',
        SOFTHSM_MODULE,
        '--pkcs11-token-label',
        'kubekms',
        '--pkcs11-key-label',
        'p',
      ],
      {
        KUBEKMS_PKCS11_PIN: hsm.pin,
      },
    );
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^root key created: pkcs11:libsofthsm2\.so slot \d+ token kubekms label p\n/);
    const bad = run(['init', '--pkcs11-slot', 'x'], {});
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('kubekms: --pkcs11-slot: expected an integer, got "x"\n');
    expect(run(['--help'], {}).stdout).toContain('kubekms rootkey init --pkcs11-module PATH');
    const unknown = run(['create'], {});
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^kubekms: rootkey: unknown subcommand "create" \(expected 'init'/);
  });

  it('accepts the old spellings (--file, --slot, --token-label, --label, --pin-file and their KUBEKMS_ twins) for one release, with a deprecation warning', async () => {
    const old = parseFlags(
      ROOTKEY_FLAGS,
      ['--slot', '2', '--label', 'k', '--pin-file', 'pin', '--file=f'],
      { KUBEKMS_TOKEN_LABEL: 't' },
      '/work',
    );
    expect(old.values).toEqual({
      'root-key-file': '/work/f',
      'pkcs11-module': undefined,
      'pkcs11-slot': 2,
      'pkcs11-token-label': 't',
      'pkcs11-key-label': 'k',
      'pkcs11-pin-file': '/work/pin',
    });
    expect(old.warnings).toEqual([
      'KUBEKMS_TOKEN_LABEL is deprecated and will be removed in the next release: use --pkcs11-token-label (KUBEKMS_PKCS11_TOKEN_LABEL)',
      '--slot is deprecated and will be removed in the next release: use --pkcs11-slot (KUBEKMS_PKCS11_SLOT)',
      '--label is deprecated and will be removed in the next release: use --pkcs11-key-label (KUBEKMS_PKCS11_KEY_LABEL)',
      '--pin-file is deprecated and will be removed in the next release: use --pkcs11-pin-file (KUBEKMS_PKCS11_PIN_FILE)',
      '--file is deprecated and will be removed in the next release: use --root-key-file (KUBEKMS_ROOT_KEY_FILE)',
    ]);
    // As a process: the old spellings still create the key, and stderr says what to type instead.
    const pinFile = join(hsm.dir, 'old-pin');
    await writeFile(pinFile, hsm.pin, { mode: 0o600 });
    const r = spawnSync(
      process.execPath,
      [
        MAIN,
        'rootkey',
        'init',
        '--pkcs11-module',
        SOFTHSM_MODULE,
        '--token-label',
        'kubekms',
        '--label',
        'old',
      ],
      { encoding: 'utf8', env: { ...process.env, ...hsm.env, KUBEKMS_PIN_FILE: pinFile }, timeout: 30_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('--pkcs11-token-label kubekms --pkcs11-key-label old');
    expect(r.stderr.split('\n').filter(Boolean)).toEqual([
      'kubekms: warning: KUBEKMS_PIN_FILE is deprecated and will be removed in the next release: use --pkcs11-pin-file (KUBEKMS_PKCS11_PIN_FILE)',
      'kubekms: warning: --token-label is deprecated and will be removed in the next release: use --pkcs11-token-label (KUBEKMS_PKCS11_TOKEN_LABEL)',
      'kubekms: warning: --label is deprecated and will be removed in the next release: use --pkcs11-key-label (KUBEKMS_PKCS11_KEY_LABEL)',
    ]);
  });
});
