/**
 * `kubekms rootkey rotate`: moves the local keystore from its current root key (serve's root-key flags:
 * `--root-key-file`, `--dev` or `--root-key-provider pkcs11 --pkcs11-*`) to a new one (`--to-root-key-file F`, or
 * `--to-pkcs11-module … --to-pkcs11-key-label …` for a key in an HSM, created beforehand by `rootkey init`):
 * every key version re-wrapped, every record re-authenticated under a new record key (src/keystore/root-rotation.ts,
 * docs/adr/0024). When a serve answers on the data dir's admin socket, serve rotates online (it keeps answering;
 * serve-root-rotation.ts); otherwise, or with --offline, the command works on the keystore itself, holding its lock.
 * Run again after an interruption, it finishes the job or reports that the store is already under the new root.
 * With --shared-state the rotation has two phases (docs/adr/0026): `kubekms rootkey stage` on every node makes its
 * serve hold the new root, then `rootkey rotate` through any one node moves the records (refused by serve, naming
 * the instances, while a live instance does not hold the new root).
 */

import { KeyStoreError } from '../keystore/errors.ts';
import { rotateRootKey } from '../keystore/root-rotation.ts';
import { createLogger } from '../observability/logger.ts';
import { openRootKey, type RootKeyOptions } from '../rootkey/root-key-config.ts';
import { callAdmin } from './admin-client.ts';
import { type CommandModule, type Io, noPositionals, parseCommandFlags } from './commands.ts';
import { type FlagSpec, type FlagValuesOf, pickFlags, UsageError } from './flags.ts';
import {
  pkcs11Given,
  pkcs11Settings,
  ROOT_KEY_FLAG_NAMES,
  rootKeyOptionsFromFlags,
} from './root-key-flags.ts';
import { SERVE_FLAGS } from './serve-flags.ts';
import type { RootRotated, RootStaged } from './serve-root-rotation.ts';

export const TO_PIN_ENV = 'KUBEKMS_TO_PKCS11_PIN';

/** The new root key's flags, shared by `rootkey rotate` and `rootkey stage`. */
const TO_ROOT_FLAGS = [
  {
    name: 'to-root-key-file',
    type: 'path',
    help: 'New root key: an existing file of 32 random bytes, mode 0600 (`kubekms rootkey init --root-key-file`).',
  },
  {
    name: 'to-pkcs11-module',
    type: 'path',
    help: 'New root key in an HSM: the PKCS#11 module (shared library).',
  },
  {
    name: 'to-pkcs11-slot',
    type: 'int',
    help: 'New root key: slot id of the token (or --to-pkcs11-token-label).',
  },
  {
    name: 'to-pkcs11-token-label',
    type: 'string',
    help: 'New root key: label of the token (or --to-pkcs11-slot).',
  },
  {
    name: 'to-pkcs11-key-label',
    type: 'string',
    help: 'New root key: CKA_LABEL of the AES-256 key (created by `kubekms rootkey init`).',
  },
  {
    name: 'to-pkcs11-pin-file',
    type: 'path',
    help: `New root key: file holding the user PIN, mode 0600 (else ${TO_PIN_ENV}, else KUBEKMS_PKCS11_PIN).`,
  },
] as const satisfies readonly FlagSpec[];

export const ROTATE_FLAGS = [
  ...pickFlags(SERVE_FLAGS, ['data-dir', ...ROOT_KEY_FLAG_NAMES]),
  ...TO_ROOT_FLAGS,
  {
    name: 'offline',
    type: 'boolean',
    default: false,
    help: "Rotate the keystore itself, never through a running serve's admin socket (refused while serve holds it).",
  },
] as const satisfies readonly FlagSpec[];

/** How long an online rotation may take (an HSM round trip per version, twice). */
const ONLINE_TIMEOUT_MS = 600_000;

type RotateFlags = FlagValuesOf<typeof ROTATE_FLAGS>;
type ToRootFlags = FlagValuesOf<typeof TO_ROOT_FLAGS>;
type NewRoot = Pick<RootKeyOptions, 'provider' | 'pkcs11' | 'rootKeyFile' | 'dev'>;

const TO_PKCS11 = [
  'to-pkcs11-module',
  'to-pkcs11-slot',
  'to-pkcs11-token-label',
  'to-pkcs11-key-label',
  'to-pkcs11-pin-file',
] as const;

export const rootkeyRotate: CommandModule = {
  flags: ROTATE_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(ROTATE_FLAGS, argv, io);
    noPositionals('rootkey rotate', positionals);
    return rotateCommand(values, io);
  },
};

/** The new root key from the `--to-*` flags; usage errors name those flags. */
export function newRootFromFlags(f: ToRootFlags): NewRoot {
  const file = f['to-root-key-file'] === '' ? undefined : f['to-root-key-file'];
  const pkcs11 = TO_PKCS11.filter((n) => f[n] !== undefined && f[n] !== '');
  if (file !== undefined && pkcs11.length > 0)
    throw new UsageError(`--to-root-key-file and --${pkcs11[0]}: give one new root key, not both`);
  if (file !== undefined) return { provider: 'file', rootKeyFile: file, dev: false };
  if (pkcs11.length === 0)
    throw new UsageError(
      'rootkey rotate: the new root key is required: --to-root-key-file PATH, or --to-pkcs11-module … ' +
        '--to-pkcs11-token-label T --to-pkcs11-key-label L for a key in an HSM',
    );
  const given = pkcs11Given({
    'pkcs11-module': f['to-pkcs11-module'],
    'pkcs11-slot': f['to-pkcs11-slot'],
    'pkcs11-token-label': f['to-pkcs11-token-label'],
    'pkcs11-key-label': f['to-pkcs11-key-label'],
    'pkcs11-pin-file': f['to-pkcs11-pin-file'],
  });
  try {
    return { provider: 'pkcs11', dev: false, pkcs11: pkcs11Settings(given, 'for a new root key in an HSM') };
  } catch (e) {
    if (e instanceof UsageError) throw new UsageError(e.message.replaceAll('--pkcs11-', '--to-pkcs11-'));
    throw e;
  }
}

export async function rotateCommand(f: RotateFlags, io: Pick<Io, 'out' | 'env'>): Promise<number> {
  const dataDir = f['data-dir'];
  const next = newRootFromFlags(f);
  if (!f.offline) {
    // A serve holds the data dir: it rotates online, opening the new key itself (serve-root-rotation.ts).
    const online = await callAdmin<RootRotated | { ok: false; code: string; message: string }>(
      dataDir,
      { op: 'rotateRootKey', to: next },
      ONLINE_TIMEOUT_MS,
    );
    if (online !== undefined) {
      if (!online.ok) throw new KeyStoreError(`rootkey rotate: serve refused: ${online.message}`);
      io.out(
        `root key rotated online by serve: ${online.keys} keys (${online.versions} versions) re-wrapped and ` +
          `${online.records} records re-authenticated\n  from: ${online.from}\n  to:   ${online.to}\n` +
          `restart serve with: ${serveFlagsOf(next)}\n`,
      );
      return 0;
    }
  }
  const current = rootKeyOptionsFromFlags(f);
  const log = createLogger('warn', process.stderr);
  const from = await openRootKey({ ...current, dataDir, log, env: io.env });
  // The new key's PIN: its own variable, else the current one's (the same token usually has the same PIN).
  const toPin = io.env[TO_PIN_ENV] ?? io.env.KUBEKMS_PKCS11_PIN;
  const to = await openRootKey({ ...next, dataDir, log, env: { KUBEKMS_PKCS11_PIN: toPin } });
  const r = await rotateRootKey({ dataDir, from, to });
  if (r.outcome === 'already') {
    io.out(`${r.file} is already protected by ${to.description}: nothing to do\n`);
  } else {
    io.out(
      `root key rotated: ${r.keys} keys (${r.versions} versions) re-wrapped and ${r.records} records ` +
        `re-authenticated in ${r.file}\n  from: ${from.description}\n  to:   ${to.description}\n`,
    );
  }
  io.out(`start serve with: ${serveFlagsOf(next)}\n`);
  return 0;
}

/** The root-key flags of serve that select the new root key. */
function serveFlagsOf(root: NewRoot): string {
  if (root.provider !== 'pkcs11' || root.pkcs11 === undefined) return `--root-key-file ${root.rootKeyFile}`;
  const p = root.pkcs11;
  const where =
    p.tokenLabel !== undefined ? `--pkcs11-token-label ${p.tokenLabel}` : `--pkcs11-slot ${String(p.slot)}`;
  return (
    `--root-key-provider pkcs11 --pkcs11-module ${p.modulePath} ${where} --pkcs11-key-label ${p.keyLabel} ` +
    '(PIN: --pkcs11-pin-file or KUBEKMS_PKCS11_PIN)'
  );
}

/** `rootkey stage`: the data dir and the new root key's flags, nothing else (it only talks to serve). */
export const STAGE_FLAGS = [
  ...pickFlags(SERVE_FLAGS, ['data-dir']),
  ...TO_ROOT_FLAGS,
] as const satisfies readonly FlagSpec[];

export const rootkeyStage: CommandModule = {
  flags: STAGE_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(STAGE_FLAGS, argv, io);
    noPositionals('rootkey stage', positionals);
    return stageCommand(values, io);
  },
};

/** Asks the serve on --data-dir (with --shared-state) to hold the new root key staged (HA phase 1). */
export async function stageCommand(
  f: FlagValuesOf<typeof STAGE_FLAGS>,
  io: Pick<Io, 'out'>,
): Promise<number> {
  const dataDir = f['data-dir'];
  const next = newRootFromFlags(f);
  const a = await callAdmin<RootStaged | { ok: false; code: string; message: string }>(
    dataDir,
    { op: 'stageRootKey', to: next },
    ONLINE_TIMEOUT_MS,
  );
  if (a === undefined)
    throw new KeyStoreError(
      `rootkey stage: no serve answers on ${dataDir}: staging is for a running serve --shared-state ` +
        '(or start it with --next-root-key-file or --next-pkcs11-*)',
    );
  if (!a.ok) throw new KeyStoreError(`rootkey stage: serve refused: ${a.message}`);
  io.out(
    `root key staged by serve: it reads records under both roots until the rotation\n  current: ${a.current}\n` +
      `  staged:  ${a.staged}\nwhen every instance holds it: kubekms rootkey rotate --to-… through one of them\n` +
      `keep it across restarts: serve --next-root-key-file F, or --next-pkcs11-* for a key in an HSM\n`,
  );
  return 0;
}
