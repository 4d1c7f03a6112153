/**
 * The user PIN of the PKCS#11 token: from a file readable only by its owner (`--pkcs11-pin-file`, checked like the
 * root key file) or from the environment variable KUBEKMS_PKCS11_PIN. The PIN is never logged and never appears
 * in an error message.
 */
import { readFile, stat } from 'node:fs/promises';
import { RootKeyError } from './errors.ts';

export const PIN_ENV = 'KUBEKMS_PKCS11_PIN';
const MAX_PIN_BYTES = 256;

/** The PIN from `pinFile` when given, else from `env[KUBEKMS_PKCS11_PIN]`. */
export async function readPkcs11Pin(
  pinFile: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string> {
  if (pinFile !== undefined && pinFile !== '') return readPinFile(pinFile);
  const fromEnv = env[PIN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  throw new RootKeyError(
    `rootkey: no PKCS#11 PIN: pass --pkcs11-pin-file PATH (mode 0600) or set ${PIN_ENV} in the environment`,
  );
}

async function readPinFile(path: string): Promise<string> {
  const info = await stat(path).catch((e: unknown) => {
    throw new RootKeyError(`rootkey: cannot read PIN file ${path}: ${errorCode(e)}`, { cause: e });
  });
  if (!info.isFile()) throw new RootKeyError(`rootkey: PIN file ${path} is not a regular file`);
  const mode = info.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new RootKeyError(
      `rootkey: PIN file ${path} has mode 0${mode.toString(8)}, so group or others can access it; ` +
        `run chmod 600 ${path}`,
    );
  }
  if (info.size > MAX_PIN_BYTES)
    throw new RootKeyError(`rootkey: PIN file ${path} holds ${info.size} bytes; a PIN has at most 256`);
  const content = await readFile(path, 'utf8').catch((e: unknown) => {
    throw new RootKeyError(`rootkey: cannot read PIN file ${path}: ${errorCode(e)}`, { cause: e });
  });
  const pin = content.replace(/\r?\n$/, '');
  if (pin === '') throw new RootKeyError(`rootkey: PIN file ${path} is empty`);
  if (/[\r\n]/.test(pin)) throw new RootKeyError(`rootkey: PIN file ${path} holds more than one line`);
  return pin;
}

function errorCode(e: unknown): string {
  if (e instanceof Error && 'code' in e && typeof e.code === 'string') return e.code;
  return e instanceof Error ? e.message : String(e);
}
