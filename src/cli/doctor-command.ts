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
import { type CommandModule, noPositionals, parseCommandFlags } from './commands.ts';
import { type FlagSpec, type FlagValuesOf, pickFlags, UsageError } from './flags.ts';
import { ROOT_KEY_FLAG_NAMES, rootKeyOptionsFromFlags } from './root-key-flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';

/** serve's flags that say where things are and which root key to use (the same definitions, not copies). */
export const DOCTOR_FLAGS = [
  ...pickFlags(SERVE_FLAGS, [
    'data-dir',
    ...ROOT_KEY_FLAG_NAMES,
    'kms-socket',
    'secrets-key',
    'kubeconfig',
    'namespace',
  ]),
  {
    name: 'encryption-config',
    type: 'path',
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
] as const satisfies readonly FlagSpec[];

export type DoctorFlags = FlagValuesOf<typeof DOCTOR_FLAGS>;

const silentLog = { warn: () => undefined, info: () => undefined };

/** Builds the doctor's options from parsed flags. */
export function doctorOptions(flags: DoctorFlags): DoctorOptions {
  const dataDir = flags['data-dir'];
  if (dataDir === '') throw new UsageError('--data-dir: must not be empty');
  const timeoutMs = flags.timeout;
  if (!(timeoutMs >= 100)) throw new UsageError('--timeout: at least 100ms');
  // serve's own reading of the root-key flags (file, --dev or pkcs11), usage errors included.
  const rootKey = rootKeyOptionsFromFlags(flags);
  const devRootKey = rootKey.provider !== 'pkcs11' && rootKey.dev && !rootKey.rootKeyFile;
  return {
    dataDir,
    kmsSocket: flags['kms-socket'],
    namespace: flags.namespace,
    secretsKey: flags['secrets-key'],
    encryptionConfig: flags['encryption-config'],
    timeoutMs,
    devRootKey,
    kube: kubeConfigOrReason(flags.kubeconfig),
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

export const doctorCommand: CommandModule = {
  flags: DOCTOR_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(DOCTOR_FLAGS, argv, io);
    noPositionals('doctor', positionals);
    const rows = await runDoctor(doctorOptions(values));
    io.out(values.output === 'json' ? formatJson(rows) : formatTable(rows));
    return exitCode(rows);
  },
};
