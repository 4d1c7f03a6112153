/**
 * Every kubekms command and subcommand: its usage, description and (loaded on use) its flags and implementation.
 * The router in main.ts and every help text (`kubekms X --help`, `kubekms help X`) read this one table, so each
 * command's help shows exactly the flags it parses. Implementations load only when their command runs.
 */
import { type FlagSpec, formatHelp, parseFlags, UsageError } from './flags.ts';

export interface Io {
  readonly out: (s: string) => void;
  readonly err: (s: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly isTTY: boolean;
}

/** A runnable command: its flag table (for help) and its implementation (argv after the command's name). */
export interface CommandModule {
  readonly flags: readonly FlagSpec[];
  run(argv: readonly string[], io: Io): Promise<number>;
}

export interface Command {
  /** The words that select it: `serve`, `key rotate`. */
  readonly name: string;
  /** One line, for `kubekms help`. */
  readonly summary: string;
  readonly usage: string;
  readonly description: string;
  /** A runnable command; a group (`key`, `rootkey`) has subcommands instead, or both (`backup`: run when flags follow). */
  readonly load?: () => Promise<CommandModule>;
  readonly subcommands?: readonly Command[];
}

/** Parses a command's flags and prints the deprecation warnings of old spellings to stderr. */
export function parseCommandFlags<const S extends readonly FlagSpec[]>(
  specs: S,
  argv: readonly string[],
  io: Io,
) {
  const parsed = parseFlags(specs, argv, io.env);
  for (const w of parsed.warnings) io.err(`kubekms: warning: ${w}\n`);
  return parsed;
}

/** Refuses arguments a command does not take. */
export function noPositionals(command: string, positionals: readonly string[]): void {
  if (positionals.length > 0)
    throw new UsageError(`${command} takes no arguments, got ${JSON.stringify(positionals[0])}`);
}

const SERVE: Command = {
  name: 'serve',
  summary: 'run the key service (KMS v2 plugin, health and metrics; operator, AWS API, HA when enabled)',
  usage: 'Usage: kubekms serve [flags]',
  description:
    'Runs the key engine on its local keystore and serves the Kubernetes KMS v2 plugin API on a unix socket,\n' +
    'plus /livez, /readyz and /metrics. Needs no Kubernetes API to start. Relative paths are under the\n' +
    'working directory.',
  load: () => import('./serve-command.ts').then((m) => m.serveCommand),
};

const KEY: Command = {
  name: 'key',
  summary: 'list, rotate and administer key versions (through a running serve, offline, or --shared-state)',
  usage: 'Usage: kubekms key list|rotate|versions|destroy-version|cancel-destroy-version [flags]',
  description:
    'Rotate and the version commands go through the admin socket of a serve running on --data-dir; otherwise\n' +
    'they work on the local keystore (refused while serve holds it), or with --shared-state on the shared state.',
  subcommands: [
    {
      name: 'key list',
      summary: 'list the keys, their state, spec, usage, primary version and aliases',
      usage: 'Usage: kubekms key list [flags]',
      description: 'Lists the keys of the keystore (offline: not while serve holds the data directory).',
      load: () => import('./key-command.ts').then((m) => m.keyList),
    },
    {
      name: 'key rotate',
      summary: 'rotate a key now',
      usage: 'Usage: kubekms key rotate KEY [flags]',
      description:
        'Rotates KEY (a key id, ARN or alias) now: through the admin socket of a serve running on --data-dir\n' +
        '(cluster-managed keys; online), else offline on the keystore. With --shared-state the new version is\n' +
        'staged until every live instance holds it.',
      load: () => import('./key-command.ts').then((m) => m.keyRotate),
    },
    {
      name: 'key versions',
      summary: 'list the versions of a key and their state (Primary, Active, Retired, DecryptDisabled, ...)',
      usage: 'Usage: kubekms key versions KEY [flags]',
      description:
        'Lists the versions of KEY with their state and retirement dates. Through the admin socket of a running\n' +
        'serve (cluster-managed keys), else offline.',
      load: () => import('./key-command.ts').then((m) => m.keyVersions),
    },
    {
      name: 'key destroy-version',
      summary: 'schedule the destruction of a retired key version (7-30 days; cancellable)',
      usage: 'Usage: kubekms key destroy-version KEY --version N [--pending-window-days D] [flags]',
      description:
        'Schedules the destruction of retired version N of KEY after a waiting period. Until then the version\n' +
        'refuses to decrypt, and cancel-destroy-version restores it. Only a retired version can be destroyed.',
      load: () => import('./key-command.ts').then((m) => m.keyDestroyVersion),
    },
    {
      name: 'key cancel-destroy-version',
      summary: 'cancel the scheduled destruction of a key version',
      usage: 'Usage: kubekms key cancel-destroy-version KEY --version N [flags]',
      description:
        'Cancels a scheduled destruction: the version is retired again and decrypts as its policy says.',
      load: () => import('./key-command.ts').then((m) => m.keyCancelDestroyVersion),
    },
  ],
};

const STATIC_POD: Command = {
  name: 'static-pod',
  summary: 'print the static-pod manifest for a control-plane node',
  usage: 'Usage: kubekms static-pod [flags]',
  description:
    'Prints the static-pod manifest that runs kubekms next to kube-apiserver (see docs/install.md). Relative\n' +
    'paths are under the working directory.',
  load: () => import('./static-pod-command.ts').then((m) => m.staticPodCommand),
};

const REENCRYPT: Command = {
  name: 'reencrypt',
  summary: 'progress of re-encrypting Secrets after a rotation',
  usage: 'Usage: kubekms reencrypt status [flags]',
  description: 'Reads the Secrets key KmsKey status.reencryption.',
  subcommands: [
    {
      name: 'reencrypt status',
      summary: 'print the progress of the re-encryption pass (--watch: until it ends)',
      usage: 'Usage: kubekms reencrypt status [--watch] [flags]',
      description:
        "Reads the Secrets key's KmsKey status.reencryption and prints the pass's progress (a progress bar\n" +
        'when watching on a terminal). Exit 1 when a watched pass fails.',
      load: () => import('./reencrypt-command.ts').then((m) => m.reencryptStatus),
    },
  ],
};

export const ROOTKEY_INIT_USAGE =
  '  kubekms rootkey init --pkcs11-module PATH (--pkcs11-slot N | --pkcs11-token-label T) --pkcs11-key-label L [--pkcs11-pin-file F]\n' +
  '  kubekms rootkey init --root-key-file PATH';

export const ROOTKEY_ROTATE_USAGE =
  '  kubekms rootkey rotate [--data-dir D] <current root key flags> --to-root-key-file PATH\n' +
  '  kubekms rootkey rotate [--data-dir D] <current root key flags> --to-pkcs11-module PATH ' +
  '(--to-pkcs11-slot N | --to-pkcs11-token-label T) --to-pkcs11-key-label L [--to-pkcs11-pin-file F]';

export const ROOTKEY_STAGE_USAGE =
  '  kubekms rootkey stage [--data-dir D] --to-root-key-file PATH | --to-pkcs11-module PATH ' +
  '(--to-pkcs11-slot N | --to-pkcs11-token-label T) --to-pkcs11-key-label L [--to-pkcs11-pin-file F]';

const ROOTKEY: Command = {
  name: 'rootkey',
  summary: 'create a root key (in an HSM or a file), or move the keystore to a new one',
  usage: `Usage:\n${ROOTKEY_INIT_USAGE}\n${ROOTKEY_ROTATE_USAGE}\n${ROOTKEY_STAGE_USAGE}`,
  description: 'Manages the root of trust (docs/root-of-trust.md).',
  subcommands: [
    {
      name: 'rootkey init',
      summary: 'create a root key in an HSM or a file',
      usage: `Usage:\n${ROOTKEY_INIT_USAGE}`,
      description:
        'Creates a root key and prints its description. In a PKCS#11 token (an HSM): an AES-256 secret key generated\n' +
        'inside the token (CKM_AES_KEY_GEN), sensitive and not extractable, found later by its label. The user PIN\n' +
        'comes from --pkcs11-pin-file (mode 0600) or the environment variable KUBEKMS_PKCS11_PIN. As a file: 32\n' +
        'random bytes, mode 0600. An existing key (same label in the token, or an existing file) is never replaced.\n' +
        'The flags have the names serve uses for the same settings.',
      load: () => import('./rootkey-command.ts').then((m) => m.rootkeyInit),
    },
    {
      name: 'rootkey rotate',
      summary: 'move the local keystore to a new root key (through a running serve, or offline)',
      usage: `Usage:\n${ROOTKEY_ROTATE_USAGE}`,
      description:
        'Re-wraps every key version under the new root key and re-authenticates every key, alias and grant under a\n' +
        'new record key wrapped by it, in one atomic step: a crash leaves the store under the old or the new root\n' +
        "key, and running the command again finishes the job. The current root key is given with serve's flags\n" +
        '(--root-key-file, --dev, --root-key-provider pkcs11 --pkcs11-*), the new one with --to-root-key-file or\n' +
        'the --to-pkcs11-* flags (its PIN: --to-pkcs11-pin-file, KUBEKMS_TO_PKCS11_PIN, else KUBEKMS_PKCS11_PIN).\n' +
        'The new key must exist (kubekms rootkey init). When serve answers on --data-dir, serve rotates online\n' +
        '(it keeps answering; the current root key flags are not needed); otherwise, or with --offline, the command\n' +
        'works on the keystore, refused while serve holds it. Start serve with the new root key flags afterwards.\n' +
        'With --shared-state, through one instance: refused, naming them, while a live instance does not hold the\n' +
        'new root key (kubekms rootkey stage); then every instance switches and every KmsStateRecord moves to it\n' +
        '(docs/root-of-trust.md).',
      load: () => import('./rootkey-rotate-command.ts').then((m) => m.rootkeyRotate),
    },
    {
      name: 'rootkey stage',
      summary: 'HA: make the serve on --data-dir hold a new root key before the records move to it',
      usage: `Usage:\n${ROOTKEY_STAGE_USAGE}`,
      description:
        'Phase 1 of a root-key rotation with --shared-state: the serve that answers on --data-dir opens the new root\n' +
        'key, proves it can wrap and unwrap with it, holds it next to its current one (it then reads records under\n' +
        'either) and publishes it in its heartbeat (kubekms.io/next-root-key). Run it on every node, then\n' +
        'kubekms rootkey rotate through one of them. serve --next-root-key-file (a file key) or --next-pkcs11-* (a key\n' +
        'in an HSM) holds it across restarts.',
      load: () => import('./rootkey-rotate-command.ts').then((m) => m.rootkeyStage),
    },
  ],
};

const DOCTOR: Command = {
  name: 'doctor',
  summary: 'check socket, root key, keystore, API, clock skew, instances; exit 1 on FAIL',
  usage: 'Usage: kubekms doctor [flags]',
  description:
    'Checks the plugin socket, the root key, the local keystore, the Kubernetes API, clock skew, the heartbeats of\n' +
    'every instance and (with --encryption-config) the EncryptionConfiguration. Changes nothing.\n' +
    'Exit status: 0 when no check FAILs, 1 otherwise, 2 for a usage error. See docs/doctor.md.',
  load: () => import('./doctor-command.ts').then((m) => m.doctorCommand),
};

const BACKUP: Command = {
  name: 'backup',
  summary: 'write a checked backup of the local keystore (--out FILE); backup verify FILE checks one',
  usage:
    'Usage: kubekms backup --out FILE [--escrow-passphrase-file F | --escrow-recipient PUB] [flags]\n' +
    '       kubekms backup verify FILE [flags]',
  description:
    'Copies the local keystore to a new file after checking every record and unwrapping every key version; safe\n' +
    'while serve runs. Key material stays wrapped by the root key, or with --escrow-passphrase-file (or\n' +
    'KUBEKMS_ESCROW_PASSPHRASE) is re-wrapped under a key derived from the passphrase (scrypt), or with\n' +
    '--escrow-recipient for an X25519 public key, for storage away from the HSM or key file.\n' +
    'See docs/disaster-recovery.md.',
  load: () => import('./backup-command.ts').then((m) => m.backupCreate),
  subcommands: [
    {
      name: 'backup verify',
      summary: 'check a backup: every record authenticated, every key version unwraps',
      usage:
        'Usage: kubekms backup verify FILE [--escrow-passphrase-file F | --escrow-key KEY | --escrow-recipient PUB] [root key flags]',
      description:
        'Checks a backup file under its sealing key: the root key (root key flags, as serve), the escrow passphrase or\n' +
        "the recipient's private key. A recipient backup without --escrow-key is only decoded (and, with\n" +
        '--escrow-recipient, checked to be sealed to that public key).',
      load: () => import('./backup-command.ts').then((m) => m.backupVerify),
    },
  ],
};

const RESTORE: Command = {
  name: 'restore',
  summary: 'restore a backup into an empty data dir, or (--shared-state) an empty shared state',
  usage:
    'Usage: kubekms restore FILE --data-dir DIR [--escrow-passphrase-file F | --escrow-key KEY] [root key flags]\n' +
    '       kubekms restore FILE --shared-state --namespace NS [--kubeconfig F] [escrow flags] [root key flags]',
  description:
    'Checks the backup in full and writes it as the keystore of an empty data dir (a non-empty one is refused),\n' +
    'or with --shared-state as the KmsStateRecords of a namespace that holds none (stop every instance first; an\n' +
    'interrupted restore is finished by running it again). Sealed under the given root key; an escrow backup is\n' +
    're-wrapped under it. See docs/disaster-recovery.md.',
  load: () => import('./restore-command.ts').then((m) => m.restoreCommand),
};

export const COMMANDS: readonly Command[] = [
  SERVE,
  KEY,
  STATIC_POD,
  REENCRYPT,
  ROOTKEY,
  DOCTOR,
  BACKUP,
  RESTORE,
];

/** The command `words` name (`['key', 'rotate']`), or a usage error naming the unknown word. */
export function findCommand(words: readonly string[]): Command {
  let list = COMMANDS;
  let found: Command | undefined;
  for (const [i, word] of words.entries()) {
    const next = list.find((c) => c.name.split(' ')[i] === word);
    if (!next) {
      const known = list.map((c) => `'${c.name.split(' ')[i]}'`).join(', ');
      throw new UsageError(
        found
          ? `${found.name}: unknown subcommand ${JSON.stringify(word)} (expected ${known}; try 'kubekms help ${found.name}')`
          : `unknown command ${JSON.stringify(word)} (try 'kubekms help')`,
      );
    }
    found = next;
    list = next.subcommands ?? [];
  }
  if (!found) throw new UsageError("missing command (try 'kubekms help')");
  return found;
}

/** The help text of a command: its usage, description, subcommands and flags with their environment twins. */
export async function commandHelp(c: Command): Promise<string> {
  if (c.load) return formatHelp(c.usage, c.description, (await c.load()).flags);
  const subs = (c.subcommands ?? []).map((s) => `  kubekms ${s.name.padEnd(18)} ${s.summary}`).join('\n');
  return `${c.usage}\n\n${c.description}\n\nCommands:\n${subs}\n\nRun 'kubekms help ${c.name} COMMAND' (or 'kubekms ${c.name} COMMAND --help') for its flags.\n`;
}

export function mainHelp(version: string): string {
  const rows = COMMANDS.map((c) => `  kubekms ${c.name.padEnd(12)} ${c.summary}`).join('\n');
  return `kubekms ${version} — in-cluster key management for Kubernetes

Usage:
${rows}
  kubekms version      print the version
  kubekms help [command [subcommand]]  show help (also: kubekms COMMAND --help or -h)

Every flag also reads from an environment variable (--data-dir ↔ KUBEKMS_DATA_DIR).
`;
}
