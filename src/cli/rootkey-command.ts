/**
 * `kubekms rootkey init`: creates a root key — a non-extractable AES-256 key inside a PKCS#11 token
 * (`--pkcs11-module PATH --pkcs11-slot N|--pkcs11-token-label T --pkcs11-key-label L [--pkcs11-pin-file F]`) or a
 * file of 32 random bytes with mode 0600 (`--root-key-file PATH`). The flags have serve's names for the same
 * settings; the old spellings (--file, --slot, --token-label, --label, --pin-file) still work for one release, with
 * a deprecation warning. Never replaces an existing key.
 */
import { RootKeyError } from '../rootkey/errors.ts';
import { FileRootKey } from '../rootkey/file-root-key.ts';
import { readPkcs11Pin } from '../rootkey/pkcs11-pin.ts';
import { Pkcs11RootKey } from '../rootkey/pkcs11-root-key.ts';
import {
  type CommandModule,
  type Io,
  noPositionals,
  parseCommandFlags,
  ROOTKEY_INIT_USAGE,
} from './commands.ts';
import { type FlagSpec, type FlagValuesOf, UsageError } from './flags.ts';
import { pkcs11Given, pkcs11Settings } from './root-key-flags.ts';

export const ROOTKEY_FLAGS = [
  {
    name: 'root-key-file',
    type: 'path',
    help: 'Create a file root key (32 random bytes, mode 0600) at this path.',
    deprecatedNames: ['file'],
  },
  { name: 'pkcs11-module', type: 'path', help: 'PKCS#11 module (shared library) of the HSM.' },
  {
    name: 'pkcs11-slot',
    type: 'int',
    help: 'Slot id of the token (or --pkcs11-token-label).',
    deprecatedNames: ['slot'],
  },
  {
    name: 'pkcs11-token-label',
    type: 'string',
    help: 'Label of the token (or --pkcs11-slot).',
    deprecatedNames: ['token-label'],
  },
  {
    name: 'pkcs11-key-label',
    type: 'string',
    help: 'CKA_LABEL of the new AES key.',
    deprecatedNames: ['label'],
  },
  {
    name: 'pkcs11-pin-file',
    type: 'path',
    help: 'File holding the user PIN, mode 0600 (else KUBEKMS_PKCS11_PIN).',
    deprecatedNames: ['pin-file'],
  },
] as const satisfies readonly FlagSpec[];

export type RootkeyFlags = FlagValuesOf<typeof ROOTKEY_FLAGS>;

export const rootkeyInit: CommandModule = {
  flags: ROOTKEY_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(ROOTKEY_FLAGS, argv, io);
    noPositionals('rootkey init', positionals);
    return initRootKey(values, io);
  },
};

const given = (v: string | number | undefined): boolean => v !== undefined && v !== '';
const nonEmpty = (v: string | undefined): string | undefined => (v === '' ? undefined : v);

export async function initRootKey(flags: RootkeyFlags, io: Pick<Io, 'out' | 'env'>): Promise<number> {
  const file = nonEmpty(flags['root-key-file']);
  const pkcs11Flags = ROOTKEY_FLAGS.filter((s) => s.name !== 'root-key-file' && given(flags[s.name]));
  if (file !== undefined) {
    if (pkcs11Flags.length > 0)
      throw new UsageError(`--root-key-file and --${pkcs11Flags[0]!.name}: give one, not both`);
    const key = await FileRootKey.create(file);
    io.out(`root key created: ${key.description}\nserve with: --root-key-file ${file}\n`);
    return 0;
  }
  if (pkcs11Flags.length === 0)
    throw new UsageError(
      `rootkey init: pass --pkcs11-module … for a key in an HSM, or --root-key-file PATH\nUsage:\n${ROOTKEY_INIT_USAGE}`,
    );
  const settings = pkcs11Settings(pkcs11Given(flags), 'for a key in an HSM');
  const pin = await readPkcs11Pin(settings.pinFile, io.env).catch((e: unknown) => {
    if (e instanceof RootKeyError && /no PKCS#11 PIN/.test(e.message))
      throw new RootKeyError(
        'rootkey: no PKCS#11 PIN: pass --pkcs11-pin-file PATH (mode 0600) or set KUBEKMS_PKCS11_PIN',
      );
    throw e;
  });
  const key = await Pkcs11RootKey.create({ ...settings, pin });
  await key.close();
  const where =
    settings.tokenLabel !== undefined
      ? `--pkcs11-token-label ${settings.tokenLabel}`
      : `--pkcs11-slot ${String(settings.slot)}`;
  io.out(
    `root key created: ${key.description}\n` +
      `serve with: --root-key-provider pkcs11 --pkcs11-module ${settings.modulePath} ${where} ` +
      `--pkcs11-key-label ${settings.keyLabel} (PIN: --pkcs11-pin-file or KUBEKMS_PKCS11_PIN)\n`,
  );
  return 0;
}
