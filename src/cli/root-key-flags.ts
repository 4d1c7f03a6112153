/**
 * The root-key flags of serve (and of every command that opens the same root key: key, doctor) as `openRootKey`
 * options, and the pkcs11 settings shared with `rootkey init`. Missing or conflicting flags are usage errors that
 * name the flag.
 */
import type { Pkcs11Settings, RootKeyOptions } from '../rootkey/root-key-config.ts';
import { UsageError } from './flags.ts';
import type { ServeFlags } from './serve-config.ts';

/** The flags of serve that only the pkcs11 provider reads. */
export const PKCS11_FLAG_NAMES = [
  'pkcs11-module',
  'pkcs11-slot',
  'pkcs11-token-label',
  'pkcs11-key-label',
  'pkcs11-pin-file',
] as const;

/** Every flag that says which root key to open: commands that open one (key, doctor) pick these from serve. */
export const ROOT_KEY_FLAG_NAMES = [
  'root-key-provider',
  'root-key-file',
  'dev',
  ...PKCS11_FLAG_NAMES,
] as const;

/** The root-key flags, as every command that opens a root key declares them (same names as serve). */
export type RootKeyFlags = Pick<
  ServeFlags,
  'root-key-provider' | 'root-key-file' | 'dev' | (typeof PKCS11_FLAG_NAMES)[number]
>;

/** Where the root key comes from: `openRootKey` options without the data directory and the log. */
export type RootKeySection = Pick<RootKeyOptions, 'provider' | 'pkcs11' | 'rootKeyFile' | 'dev'>;

const nonEmpty = (v: string | undefined): string | undefined => (v === '' ? undefined : v);

/**
 * `--root-key-provider file|pkcs11` with `--root-key-file`/`--dev` or the `--pkcs11-*` flags. Flags of the other
 * provider, and missing or conflicting pkcs11 flags, are usage errors.
 */
export function rootKeyOptionsFromFlags(flags: RootKeyFlags): RootKeySection {
  const provider = flags['root-key-provider'];
  const given = PKCS11_FLAG_NAMES.filter((f) => flags[f] !== undefined && flags[f] !== '');
  const rootKeyFile = nonEmpty(flags['root-key-file']);
  if (provider !== 'pkcs11') {
    if (given.length > 0)
      throw new UsageError(
        `--${given[0]}: only with --root-key-provider pkcs11 (the provider is ${provider})`,
      );
    return { provider: 'file', rootKeyFile, dev: flags.dev };
  }
  if (rootKeyFile !== undefined)
    throw new UsageError('--root-key-file: not with --root-key-provider pkcs11 (the root key is in the HSM)');
  if (flags.dev) throw new UsageError('--dev: creates a file root key; not with --root-key-provider pkcs11');
  return {
    provider: 'pkcs11',
    dev: false,
    pkcs11: pkcs11Settings(pkcs11Given(flags), 'with --root-key-provider pkcs11'),
  };
}

/** The pkcs11 flags as given (undefined when absent or empty). */
export interface Pkcs11Given {
  readonly modulePath: string | undefined;
  readonly slot: number | undefined;
  readonly tokenLabel: string | undefined;
  readonly keyLabel: string | undefined;
  readonly pinFile: string | undefined;
}

/** The `--pkcs11-*` flags of any command that has them (empty counts as absent). */
export function pkcs11Given(flags: Pick<RootKeyFlags, (typeof PKCS11_FLAG_NAMES)[number]>): Pkcs11Given {
  return {
    modulePath: nonEmpty(flags['pkcs11-module']),
    slot: flags['pkcs11-slot'],
    tokenLabel: nonEmpty(flags['pkcs11-token-label']),
    keyLabel: nonEmpty(flags['pkcs11-key-label']),
    pinFile: nonEmpty(flags['pkcs11-pin-file']),
  };
}

/** Checks the pkcs11 flags: a module, a slot or a token label (not both), a key label. */
export function pkcs11Settings(f: Pkcs11Given, context: string): Pkcs11Settings {
  const { modulePath, slot, tokenLabel, keyLabel } = f;
  if (modulePath === undefined)
    throw new UsageError(
      `--pkcs11-module: required ${context} (the PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so)`,
    );
  if (slot !== undefined && tokenLabel !== undefined)
    throw new UsageError('--pkcs11-slot and --pkcs11-token-label: give one, not both');
  if (slot === undefined && tokenLabel === undefined)
    throw new UsageError(`--pkcs11-slot or --pkcs11-token-label: one is required ${context}`);
  if (slot !== undefined && slot < 0) throw new UsageError(`--pkcs11-slot: a slot id is ≥ 0, got ${slot}`);
  if (keyLabel === undefined)
    throw new UsageError(`--pkcs11-key-label: required ${context} (the CKA_LABEL of the AES root key)`);
  return { modulePath, slot, tokenLabel, keyLabel, pinFile: f.pinFile };
}
