/**
 * `kubekms rootkey init`: creates a root key — a non-extractable AES-256 key inside a PKCS#11 token
 * (`--pkcs11-module PATH --slot N|--token-label T --label L [--pin-file F]`) or a file of 32 random bytes with mode
 * 0600 (`--file PATH`). Never replaces an existing key. Also turns serve's root-key flags into `openRootKey`
 * options, with usage errors that name the flag.
 */
import { RootKeyError } from '../rootkey/errors.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { readPkcs11Pin } from '../rootkey/pkcs11-pin.ts';
import { Pkcs11RootKey } from '../rootkey/pkcs11-root-key.ts';
import type { Pkcs11Settings, RootKeyOptions, RootKeyProvider } from '../rootkey/root-key-config.ts';
import { type FlagSpec, type FlagValues, UsageError } from './flags.ts';

export const ROOTKEY_USAGE = `Usage:
  kubekms rootkey init --pkcs11-module PATH (--slot N | --token-label T) --label L [--pin-file F]
  kubekms rootkey init --file PATH`;

export const ROOTKEY_DESCRIPTION = `Creates a root key and prints its description. In a PKCS#11 token (an HSM): an AES-256 secret key generated
inside the token (CKM_AES_KEY_GEN), sensitive and not extractable, found later by its label. The user PIN comes
from --pin-file (mode 0600) or the environment variable KUBEKMS_PKCS11_PIN. As a file: 32 random bytes, mode 0600.
An existing key (same label in the token, or an existing file) is never replaced.`;

export const ROOTKEY_FLAGS: readonly FlagSpec[] = [
  { name: 'file', type: 'string', help: 'Create a file root key (32 random bytes, mode 0600) at this path.' },
  { name: 'pkcs11-module', type: 'string', help: 'PKCS#11 module (shared library) of the HSM.' },
  { name: 'slot', type: 'int', help: 'Slot id of the token (or --token-label).' },
  { name: 'token-label', type: 'string', help: 'Label of the token (or --slot).' },
  { name: 'label', type: 'string', help: 'CKA_LABEL of the new AES key.' },
  {
    name: 'pin-file',
    type: 'string',
    help: 'File holding the user PIN, mode 0600 (else KUBEKMS_PKCS11_PIN).',
  },
];

const str = (v: FlagValues[string]): string | undefined =>
  typeof v === 'string' && v !== '' ? v : undefined;
const int = (v: FlagValues[string]): number | undefined => (typeof v === 'number' ? v : undefined);

/** The flags of serve (and of commands that open the same root key) that only the pkcs11 provider reads. */
export const PKCS11_FLAG_NAMES = [
  'pkcs11-module',
  'pkcs11-slot',
  'pkcs11-token-label',
  'pkcs11-key-label',
  'pkcs11-pin-file',
] as const;

/**
 * serve's root-key flags as `openRootKey` options: `--root-key-provider file|pkcs11` with `--root-key-file`/`--dev`
 * or the `--pkcs11-*` flags. Flags of the other provider, and missing or conflicting pkcs11 flags, are usage errors
 * that name the flag.
 */
export function rootKeyOptionsFromFlags(
  flags: FlagValues,
): Pick<RootKeyOptions, 'provider' | 'pkcs11' | 'rootKeyFile' | 'dev'> {
  const provider = (flags['root-key-provider'] ?? 'file') as RootKeyProvider;
  const given = PKCS11_FLAG_NAMES.filter((f) => flags[f] !== undefined && flags[f] !== '');
  if (provider !== 'pkcs11') {
    if (given.length > 0)
      throw new UsageError(
        `--${given[0]}: only with --root-key-provider pkcs11 (the provider is ${provider})`,
      );
    return { provider: 'file', rootKeyFile: str(flags['root-key-file']), dev: flags.dev === true };
  }
  if (str(flags['root-key-file']) !== undefined)
    throw new UsageError('--root-key-file: not with --root-key-provider pkcs11 (the root key is in the HSM)');
  if (flags.dev === true)
    throw new UsageError('--dev: creates a file root key; not with --root-key-provider pkcs11');
  return {
    provider: 'pkcs11',
    dev: false,
    pkcs11: pkcs11Settings({
      module: ['--pkcs11-module', str(flags['pkcs11-module'])],
      slot: ['--pkcs11-slot', int(flags['pkcs11-slot'])],
      tokenLabel: ['--pkcs11-token-label', str(flags['pkcs11-token-label'])],
      keyLabel: ['--pkcs11-key-label', str(flags['pkcs11-key-label'])],
      pinFile: str(flags['pkcs11-pin-file']),
      context: 'with --root-key-provider pkcs11',
    }),
  };
}

interface NamedFlags {
  readonly module: readonly [string, string | undefined];
  readonly slot: readonly [string, number | undefined];
  readonly tokenLabel: readonly [string, string | undefined];
  readonly keyLabel: readonly [string, string | undefined];
  readonly pinFile: string | undefined;
  readonly context: string;
}

function pkcs11Settings(f: NamedFlags): Pkcs11Settings {
  const [moduleFlag, modulePath] = f.module;
  const [slotFlag, slot] = f.slot;
  const [tokenFlag, tokenLabel] = f.tokenLabel;
  const [keyFlag, keyLabel] = f.keyLabel;
  if (modulePath === undefined)
    throw new UsageError(
      `${moduleFlag}: required ${f.context} (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)`,
    );
  if (slot !== undefined && tokenLabel !== undefined)
    throw new UsageError(`${slotFlag} and ${tokenFlag}: give one, not both`);
  if (slot === undefined && tokenLabel === undefined)
    throw new UsageError(`${slotFlag} or ${tokenFlag}: one is required ${f.context}`);
  if (slot !== undefined && slot < 0) throw new UsageError(`${slotFlag}: a slot id is ≥ 0, got ${slot}`);
  if (keyLabel === undefined)
    throw new UsageError(`${keyFlag}: required ${f.context} (the CKA_LABEL of the AES root key)`);
  return { modulePath, slot, tokenLabel, keyLabel, pinFile: f.pinFile };
}

export async function rootkeyCommand(
  sub: string | undefined,
  positionals: readonly string[],
  flags: FlagValues,
  env: Readonly<Record<string, string | undefined>>,
  write: (s: string) => void,
): Promise<number> {
  if (sub !== 'init')
    throw new UsageError(
      sub === undefined
        ? `rootkey: missing subcommand\n${ROOTKEY_USAGE}`
        : `rootkey: unknown subcommand ${JSON.stringify(sub)}`,
    );
  if (positionals.length > 0)
    throw new UsageError(`rootkey init: unexpected ${JSON.stringify(positionals[0])}`);
  const file = str(flags.file);
  const pkcs11Given = ROOTKEY_FLAGS.filter(
    (s) => s.name !== 'file' && flags[s.name] !== undefined && flags[s.name] !== '',
  );
  if (file !== undefined) {
    if (pkcs11Given.length > 0)
      throw new UsageError(`--file and --${pkcs11Given[0]!.name}: give one, not both`);
    const key = await FileRootKey.create(file);
    write(`root key created: ${key.description}\nserve with: --root-key-file ${file}\n`);
    return 0;
  }
  if (pkcs11Given.length === 0)
    throw new UsageError(
      `rootkey init: pass --pkcs11-module … for a key in an HSM, or --file PATH\n${ROOTKEY_USAGE}`,
    );
  const settings = pkcs11Settings({
    module: ['--pkcs11-module', str(flags['pkcs11-module'])],
    slot: ['--slot', int(flags.slot)],
    tokenLabel: ['--token-label', str(flags['token-label'])],
    keyLabel: ['--label', str(flags.label)],
    pinFile: str(flags['pin-file']),
    context: 'for a key in an HSM',
  });
  const pin = await readPkcs11Pin(settings.pinFile, env).catch((e: unknown) => {
    if (e instanceof RootKeyError && /no PKCS#11 PIN/.test(e.message))
      throw new RootKeyError(
        'rootkey: no PKCS#11 PIN: pass --pin-file PATH (mode 0600) or set KUBEKMS_PKCS11_PIN',
      );
    throw e;
  });
  const key = await Pkcs11RootKey.create({ ...settings, pin });
  await key.close();
  const where =
    settings.tokenLabel !== undefined
      ? `--pkcs11-token-label ${settings.tokenLabel}`
      : `--pkcs11-slot ${String(settings.slot)}`;
  write(
    `root key created: ${key.description}\n` +
      `serve with: --root-key-provider pkcs11 --pkcs11-module ${settings.modulePath} ${where} ` +
      `--pkcs11-key-label ${settings.keyLabel} (PIN: --pkcs11-pin-file or KUBEKMS_PKCS11_PIN)\n`,
  );
  return 0;
}
