/**
 * Chooses the root of trust from the command line. Provider `file` (the default): `--root-key-file PATH`, or with
 * `--dev` a development key created on first use under the data directory; without either, kubekms refuses to
 * start. Provider `pkcs11`: a non-extractable AES key in an HSM (`--pkcs11-module`, `--pkcs11-slot` or
 * `--pkcs11-token-label`, `--pkcs11-key-label`, PIN from `--pkcs11-pin-file` or KUBEKMS_PKCS11_PIN).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import { RootKeyError, RootKeyExistsError } from './errors.ts';
import { FileRootKey } from './file-root-key.ts';
import { readPkcs11Pin } from './pkcs11-pin.ts';
import { Pkcs11RootKey } from './pkcs11-root-key.ts';
import type { Pkcs11Target } from './pkcs11-token.ts';

/** The part of a pino logger this module uses. */
export interface RootKeyLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export type RootKeyProvider = 'file' | 'pkcs11';
export const ROOT_KEY_PROVIDERS: readonly RootKeyProvider[] = ['file', 'pkcs11'];

/** Where the pkcs11 root key is, and where its PIN comes from. */
export interface Pkcs11Settings extends Pkcs11Target {
  /** `--pkcs11-pin-file` (mode 0600); without it the PIN is read from KUBEKMS_PKCS11_PIN. */
  readonly pinFile?: string | undefined;
}

export interface RootKeyOptions {
  /** `--root-key-provider`: `file` (default) or `pkcs11`. */
  readonly provider?: RootKeyProvider | undefined;
  /** With provider `pkcs11`: the module, slot, key label and PIN source. */
  readonly pkcs11?: Pkcs11Settings | undefined;
  /** The environment the PIN is read from (KUBEKMS_PKCS11_PIN); defaults to process.env. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** `--root-key-file`: a 32-byte key file, mode 0600. Wins over `dev`. */
  readonly rootKeyFile?: string | undefined;
  /** `--dev`: create (once) and use `<dataDir>/dev-root.key`. */
  readonly dev: boolean;
  readonly dataDir: string;
  readonly log: RootKeyLog;
}

export const DEV_ROOT_KEY_FILE = 'dev-root.key';

export async function openRootKey(options: RootKeyOptions): Promise<RootKey> {
  const { rootKeyFile, dev, dataDir, log } = options;
  if (options.provider === 'pkcs11') return openPkcs11RootKey(options);
  if (rootKeyFile !== undefined && rootKeyFile !== '') {
    const key = await FileRootKey.load(rootKeyFile);
    log.info({ rootKey: key.description }, 'root key loaded');
    return key;
  }
  if (!dev) {
    throw new RootKeyError(
      'rootkey: no root key configured: pass --root-key-file PATH (32 random bytes, mode 0600, ' +
        'e.g. from `openssl rand -hex 32`), or --dev for a throwaway development key',
    );
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, DEV_ROOT_KEY_FILE);
  const key = await FileRootKey.create(path).catch(async (e: unknown) => {
    if (e instanceof RootKeyExistsError) return FileRootKey.load(path);
    throw e;
  });
  log.warn(
    { rootKey: key.description },
    `DEVELOPMENT ROOT KEY in use: ${path} sits next to the data it protects, so anyone who can read the data ` +
      'directory can unwrap every key. Never use --dev in production; pass --root-key-file instead.',
  );
  return key;
}

async function openPkcs11RootKey(options: RootKeyOptions): Promise<RootKey> {
  const settings = options.pkcs11;
  if (settings === undefined)
    throw new RootKeyError('rootkey: provider pkcs11 needs a module, a slot or token label and a key label');
  const pin = await readPkcs11Pin(settings.pinFile, options.env ?? process.env);
  const key = await Pkcs11RootKey.open({
    modulePath: settings.modulePath,
    slot: settings.slot,
    tokenLabel: settings.tokenLabel,
    keyLabel: settings.keyLabel,
    pin,
    log: options.log,
  });
  // The session and the module are released when the process ends (C_CloseSession, C_Finalize).
  process.once('exit', () => key.closeSync());
  options.log.info({ rootKey: key.description }, 'root key loaded');
  return key;
}
