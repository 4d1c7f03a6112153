/**
 * The user PIN of the PKCS#11 token: from a file readable only by its owner (`--pkcs11-pin-file`, checked like the
 * root key file) or from the environment variable KUBEKMS_PKCS11_PIN. The PIN is never logged and never appears
 * in an error message.
 */
import { RootKeyError } from './errors.ts';
import { readSecretLine } from './secret-file.ts';

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

function readPinFile(path: string): Promise<string> {
  return readSecretLine(path, 'PIN file', MAX_PIN_BYTES);
}
