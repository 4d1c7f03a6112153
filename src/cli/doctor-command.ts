/**
 * `kubekms doctor [flags]`: checks an installation and prints CHECK | STATUS | DETAIL (or JSON with --output
 * json). Exit 0 when nothing FAILs, 1 otherwise, 2 for a usage error. Takes serve's flags where they apply (same
 * names, same KUBEKMS_* environment twins, same defaults) so `kubekms doctor` with serve's flags checks that serve.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { exitCode, formatJson, formatTable } from '../doctor/report.ts';
import { type DoctorOptions, runDoctor } from '../doctor/run-doctor.ts';
import { kubeConfigOrReason } from '../kube/kubeconfig.ts';
import { DEV_ROOT_KEY_FILE, openRootKey } from '../rootkey/root-key-config.ts';
import { type FlagSpec, type FlagValues, formatHelp, UsageError } from './flags.ts';
import { rootKeyOptionsFromFlags } from './rootkey-command.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

/** serve's flags that say where things are and which root key to use (root-key provider flags included). */
const SHARED = new Set([
  'data-dir',
  'kms-socket',
  'root-key-file',
  'dev',
  'kubeconfig',
  'namespace',
  'secrets-key',
]);
const isShared = (f: FlagSpec): boolean =>
  SHARED.has(f.name) || f.name.startsWith('root-key-') || f.name.startsWith('pkcs11-');

export const DOCTOR_FLAGS: readonly FlagSpec[] = [
  ...SERVE_FLAGS.filter(isShared),
  {
    name: 'encryption-config',
    type: 'string',
    default: '',
    help: "Also check this kube-apiserver EncryptionConfiguration: kubekms's own state must not be encrypted by a kms provider; Secrets must be written by the kms v2 provider on --kms-socket.",
  },
  {
    name: 'timeout',
    type: 'duration',
    default: 5_000,
    defaultText: ' (default 5s)',
    help: 'How long each check may take.',
  },
  { name: 'output', type: { oneOf: ['table', 'json'] }, default: 'table', help: 'Output format.' },
];

export const DOCTOR_HELP = formatHelp(
  'Usage: kubekms doctor [flags]',
  'Checks the plugin socket, the root key, the local keystore, the Kubernetes API, clock skew, the heartbeats of\n' +
    'every instance and (with --encryption-config) the EncryptionConfiguration. Changes nothing.\n' +
    'Exit status: 0 when no check FAILs, 1 otherwise, 2 for a usage error. See docs/doctor.md.',
  DOCTOR_FLAGS,
);

const silentLog = { warn: () => undefined, info: () => undefined };

/** Builds the doctor's options from parsed flags. */
export function doctorOptions(flags: FlagValues): DoctorOptions {
  const dataDir = String(flags['data-dir'] ?? '');
  if (dataDir === '') throw new UsageError('--data-dir: must not be empty');
  const timeoutMs = Number(flags.timeout);
  if (!(timeoutMs >= 100)) throw new UsageError('--timeout: at least 100ms');
  // serve's own reading of the root-key flags (file, --dev or pkcs11), usage errors included.
  const rootKey = rootKeyOptionsFromFlags(flags);
  const devRootKey = rootKey.provider !== 'pkcs11' && rootKey.dev && !rootKey.rootKeyFile;
  return {
    dataDir,
    kmsSocket: String(flags['kms-socket'] ?? ''),
    namespace: String(flags.namespace ?? 'kubekms'),
    secretsKey: String(flags['secrets-key'] ?? 'alias/kubekms/secrets'),
    encryptionConfig: String(flags['encryption-config'] ?? ''),
    timeoutMs,
    devRootKey,
    kube: kubeConfigOrReason(String(flags.kubeconfig ?? '')),
    openRootKey: async () => {
      // openRootKey --dev creates a development key when there is none: the doctor only looks.
      if (devRootKey) {
        const path = join(dataDir, DEV_ROOT_KEY_FILE);
        await access(path).catch(() => {
          throw new Error(`no development root key at ${path} (--dev; the doctor never creates one)`);
        });
      }
      return openRootKey({ ...rootKey, dataDir, log: silentLog });
    },
  };
}

export async function doctorCommand(flags: FlagValues, write: (s: string) => void): Promise<number> {
  const rows = await runDoctor(doctorOptions(flags));
  write(flags.output === 'json' ? formatJson(rows) : formatTable(rows));
  return exitCode(rows);
}
