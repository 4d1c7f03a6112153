/**
 * The root key serve holds staged from start for an HA root-key rotation (docs/adr/0026): `--next-root-key-file`,
 * or its pkcs11 twin `--next-pkcs11-module … --next-pkcs11-key-label …` (PIN from `--next-pkcs11-pin-file`, else
 * KUBEKMS_NEXT_PKCS11_PIN, else KUBEKMS_PKCS11_PIN). The flags as a typed config section (usage errors name the
 * flag), and the opening at start: a key that does not open or round-trip stops serve, naming the flag.
 */
import type { RootKey } from '../engine/ports.ts';
import type { Logger } from '../observability/logger.ts';
import { RootKeyError } from '../rootkey/errors.ts';
import { openRootKey } from '../rootkey/root-key-config.ts';
import { proveRoundTrip } from '../rootkey/switchable-root-key.ts';
import { UsageError } from './flags.ts';
import { pkcs11Given, pkcs11Settings, type RootKeySection } from './root-key-flags.ts';
import type { ServeFlags } from './serve-config.ts';

export const NEXT_PIN_ENV = 'KUBEKMS_NEXT_PKCS11_PIN';

const NEXT_PKCS11 = [
  'next-pkcs11-module',
  'next-pkcs11-slot',
  'next-pkcs11-token-label',
  'next-pkcs11-key-label',
  'next-pkcs11-pin-file',
] as const;

type NextFlags = Pick<ServeFlags, 'shared-state' | 'next-root-key-file' | (typeof NEXT_PKCS11)[number]>;
type Env = Readonly<Record<string, string | undefined>>;

/** `--next-root-key-file` or `--next-pkcs11-*` (only with --shared-state, one of the two) as a root key section. */
export function nextRootKeySection(f: NextFlags): { nextRootKey?: RootKeySection } {
  const file = f['next-root-key-file'] === '' ? undefined : f['next-root-key-file'];
  const pkcs11 = NEXT_PKCS11.filter((n) => f[n] !== undefined && f[n] !== '');
  if (file === undefined && pkcs11.length === 0) return {};
  const flag = file !== undefined ? 'next-root-key-file' : pkcs11[0];
  if (!f['shared-state'])
    throw new UsageError(
      `--${flag}: only with --shared-state (a single node rotates at once: kubekms rootkey rotate)`,
    );
  if (file !== undefined && pkcs11.length > 0)
    throw new UsageError(`--next-root-key-file and --${pkcs11[0]}: give one next root key, not both`);
  if (file !== undefined) return { nextRootKey: { provider: 'file', rootKeyFile: file, dev: false } };
  const given = pkcs11Given({
    'pkcs11-module': f['next-pkcs11-module'],
    'pkcs11-slot': f['next-pkcs11-slot'],
    'pkcs11-token-label': f['next-pkcs11-token-label'],
    'pkcs11-key-label': f['next-pkcs11-key-label'],
    'pkcs11-pin-file': f['next-pkcs11-pin-file'],
  });
  try {
    return {
      nextRootKey: {
        provider: 'pkcs11',
        dev: false,
        pkcs11: pkcs11Settings(given, 'for a next root key in an HSM'),
      },
    };
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(e.message.replaceAll('--pkcs11-', '--next-pkcs11-'));
    throw e;
  }
}

/**
 * Opens the next root key and proves it wraps and unwraps. A failure is a RootKeyError naming the flag to fix
 * (and the CKR_ code the token gave); the PIN never appears in it.
 */
export async function openNextRoot(
  spec: RootKeySection,
  dataDir: string,
  log: Logger,
  env: Env = process.env,
): Promise<RootKey> {
  const pin = env[NEXT_PIN_ENV] || env.KUBEKMS_PKCS11_PIN;
  try {
    const next = await openRootKey({ ...spec, dataDir, log, env: { KUBEKMS_PKCS11_PIN: pin } });
    await proveRoundTrip(next);
    return next;
  } catch (e) {
    if (spec.provider !== 'pkcs11' || !(e instanceof RootKeyError)) throw e;
    const message = e.message
      .replace('--pkcs11-pin-file or KUBEKMS_PKCS11_PIN', `--next-pkcs11-pin-file or ${NEXT_PIN_ENV}`)
      .replace(/set KUBEKMS_PKCS11_PIN/, `set ${NEXT_PIN_ENV} (or KUBEKMS_PKCS11_PIN)`)
      .replace('pass --pkcs11-pin-file', 'pass --next-pkcs11-pin-file');
    throw new RootKeyError(`--${blamedFlag(message, spec)}: the next root key: ${message}`, { cause: e });
  }
}

/** The flag a failure to open the next pkcs11 root key points at. */
function blamedFlag(message: string, spec: RootKeySection): (typeof NEXT_PKCS11)[number] {
  if (/CKR_PIN_|PKCS#11 PIN|PIN file/.test(message)) return 'next-pkcs11-pin-file';
  if (/secret keys? (are |is )?labelled|key labelled/.test(message)) return 'next-pkcs11-key-label';
  if (/no token|tokens labelled|not initialized/.test(message))
    return spec.pkcs11?.slot !== undefined ? 'next-pkcs11-slot' : 'next-pkcs11-token-label';
  return 'next-pkcs11-module';
}
