/**
 * `kubekms reencrypt status [--watch]`: reads the Secrets key's KmsKey status and prints the pass's progress (a
 * progress bar when watching on a terminal, plain lines otherwise).
 */
import { KMS_KEY, type KmsKey, type ReencryptionStatus } from '../api/kinds.ts';
import { nodeKubeClient } from '../kube/client-node.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { type CommandModule, type Io, noPositionals, parseCommandFlags } from './commands.ts';
import type { FlagSpec, FlagValuesOf } from './flags.ts';

export const REENCRYPT_FLAGS = [
  {
    name: 'kubeconfig',
    type: 'path',
    default: '',
    help: 'Kubeconfig. Empty: $KUBECONFIG, ~/.kube/config, or the in-cluster service account.',
  },
  {
    name: 'namespace',
    type: 'string',
    default: 'kubekms',
    help: "kubekms's namespace (where the Secrets key's KmsKey is).",
  },
  { name: 'key', type: 'string', default: 'secrets', help: 'The KmsKey that reports the Secrets key.' },
  {
    name: 'watch',
    type: 'boolean',
    default: false,
    help: 'Keep printing until the pass completes or fails.',
  },
  {
    name: 'interval',
    type: 'duration',
    default: 2_000,
    defaultText: ' (default 2s)',
    help: 'Polling interval of --watch.',
  },
] as const satisfies readonly FlagSpec[];

const pct = (s: ReencryptionStatus): number =>
  s.total > 0 ? Math.min(100, Math.floor(((s.done + s.skipped + s.failed) * 100) / s.total)) : 0;

/** One line describing the pass. */
export function describeReencryption(s: ReencryptionStatus | undefined): string {
  if (!s)
    return 'no re-encryption recorded (the Secrets key was not rotated since re-encryption was enabled)';
  const handled = s.done + s.skipped + s.failed;
  const counts = `${handled}/${s.total} (${pct(s)}%): ${s.done} rewritten, ${s.skipped} gone, ${s.failed} failed`;
  const via = s.method === 'StorageVersionMigration' ? ' (StorageVersionMigration)' : '';
  switch (s.phase) {
    case 'Pending':
      return `key version ${s.keyVersion}: Pending, starts at ${s.notBefore ?? '?'}${waitingFor(s)}`;
    case 'Running':
      return `key version ${s.keyVersion}: Running${via} ${counts}; started ${s.startedAt ?? '?'}`;
    default:
      return `key version ${s.keyVersion}: ${s.phase} ${counts}; ${s.startedAt ?? '?'} → ${s.finishedAt ?? '?'}${
        s.unknownResources?.length ? `; unknown resources: ${s.unknownResources.join(', ')}` : ''
      }`;
  }
}

/** What a pending version waits for: the API servers seen switching, or why they cannot be seen. */
function waitingFor(s: ReencryptionStatus): string {
  const sw = s.switchover;
  if (!sw) return '';
  if (sw.unavailable) return ` (API servers' switch-over not visible: ${sw.unavailable})`;
  return ` or once every API server writes under the new key_id (${sw.switched} of ${sw.apiservers} seen)`;
}

/** `[#########...........]  45%` */
export function progressBar(s: ReencryptionStatus, width = 30): string {
  const filled = s.phase === 'Completed' ? width : Math.round((pct(s) * width) / 100);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(s.phase === 'Completed' ? 100 : pct(s)).padStart(3)}%`;
}

export const reencryptStatus: CommandModule = {
  flags: REENCRYPT_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(REENCRYPT_FLAGS, argv, io);
    noPositionals('reencrypt status', positionals);
    return reencryptStatusOf(values, io);
  },
};

async function reencryptStatusOf(
  flags: FlagValuesOf<typeof REENCRYPT_FLAGS>,
  out: Pick<Io, 'out' | 'isTTY'>,
): Promise<number> {
  const client = nodeKubeClient(loadKubeConfig(flags.kubeconfig));
  const ns = flags.namespace;
  const name = flags.key;
  const read = async (): Promise<ReencryptionStatus | undefined> => {
    const o = await client.get<KmsKey>(KMS_KEY, ns, name);
    if (!o) throw new Error(`KmsKey ${ns}/${name} not found (is kubekms serve --operator running?)`);
    return o.status?.reencryption;
  };
  if (!flags.watch) {
    out.out(`${describeReencryption(await read())}\n`);
    return 0;
  }
  let last = '';
  for (;;) {
    const s = await read();
    const line = describeReencryption(s);
    const done = s?.phase === 'Completed' || s?.phase === 'Failed';
    if (out.isTTY && s) out.out(`\r\x1b[2K${progressBar(s)} ${line}`);
    else if (line !== last) out.out(`${line}\n`);
    last = line;
    if (done) {
      if (out.isTTY) out.out('\n');
      return s?.phase === 'Completed' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, flags.interval));
  }
}
