/**
 * Chooses the root of trust from the command line: `--root-key-file PATH`, or with `--dev` a development key
 * created on first use under the data directory. Without either, kubekms refuses to start.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootKey } from '../engine/ports.ts';
import { RootKeyError, RootKeyExistsError } from './errors.ts';
import { FileRootKey } from './file-root-key.ts';

/** The part of a pino logger this module uses. */
export interface RootKeyLog {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

export interface RootKeyOptions {
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
