/**
 * Re-encryption from the command line: the serve flags → operator options, and `kubekms reencrypt status
 * [--watch]`, which reads the Secrets key's KmsKey status and prints the pass's progress (a progress bar when
 * watching on a terminal, plain lines otherwise).
 */
import { KMS_KEY, type KmsKey, type ReencryptionStatus } from '../api/kinds.ts';
import { nodeKubeClient } from '../kube/client-node.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import type { ReencryptOptions } from '../operator/reencrypt-controller.ts';
import { type FlagSpec, type FlagValues, UsageError } from './flags.ts';

/** `reencrypt` in OperatorOptions, from --reencrypt-resources/-delay/-qps; none when the resource list is empty. */
export function reencryptOptions(flags: FlagValues, secretsKey: string): { reencrypt?: ReencryptOptions } {
  const resources = String(flags['reencrypt-resources'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const r of resources)
    if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(r))
      throw new UsageError(
        `--reencrypt-resources: ${JSON.stringify(r)} is not a resource name (plural[.group])`,
      );
  const qps = Number(flags['reencrypt-qps'] ?? 0);
  if (qps < 0) throw new UsageError(`--reencrypt-qps: must be ≥ 0 (0 = unlimited), got ${qps}`);
  if (resources.length === 0) return {};
  return {
    reencrypt: { secretsKey, resources, delayMs: Number(flags['reencrypt-delay'] ?? 600_000), qps },
  };
}

export const REENCRYPT_FLAGS: readonly FlagSpec[] = [
  {
    name: 'kubeconfig',
    type: 'string',
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
];

export const REENCRYPT_USAGE = 'kubekms reencrypt status [--watch] [--kubeconfig K] [--namespace kubekms]';

const pct = (s: ReencryptionStatus): number =>
  s.total > 0 ? Math.min(100, Math.floor(((s.done + s.skipped + s.failed) * 100) / s.total)) : 0;

/** One line describing the pass. */
export function describeReencryption(s: ReencryptionStatus | undefined): string {
  if (!s)
    return 'no re-encryption recorded (the Secrets key was not rotated since re-encryption was enabled)';
  const handled = s.done + s.skipped + s.failed;
  const counts = `${handled}/${s.total} (${pct(s)}%): ${s.done} rewritten, ${s.skipped} gone, ${s.failed} failed`;
  switch (s.phase) {
    case 'Pending':
      return `key version ${s.keyVersion}: Pending, starts at ${s.notBefore ?? '?'}`;
    case 'Running':
      return `key version ${s.keyVersion}: Running ${counts}; started ${s.startedAt ?? '?'}`;
    default:
      return `key version ${s.keyVersion}: ${s.phase} ${counts}; ${s.startedAt ?? '?'} → ${s.finishedAt ?? '?'}${
        s.unknownResources?.length ? `; unknown resources: ${s.unknownResources.join(', ')}` : ''
      }`;
  }
}

/** `[#########...........]  45%` */
export function progressBar(s: ReencryptionStatus, width = 30): string {
  const filled = s.phase === 'Completed' ? width : Math.round((pct(s) * width) / 100);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(s.phase === 'Completed' ? 100 : pct(s)).padStart(3)}%`;
}

export async function reencryptCommand(
  sub: string | undefined,
  flags: FlagValues,
  out: { write: (s: string) => void; isTTY: boolean },
): Promise<number> {
  if (sub !== 'status')
    throw new UsageError(`reencrypt: expected 'status', got ${JSON.stringify(sub ?? '')}`);
  const client = nodeKubeClient(loadKubeConfig(String(flags.kubeconfig ?? '')));
  const ns = String(flags.namespace);
  const name = String(flags.key);
  const read = async (): Promise<ReencryptionStatus | undefined> => {
    const o = await client.get<KmsKey>(KMS_KEY, ns, name);
    if (!o) throw new Error(`KmsKey ${ns}/${name} not found (is kubekms serve --operator running?)`);
    return o.status?.reencryption;
  };
  if (flags.watch !== true) {
    out.write(`${describeReencryption(await read())}\n`);
    return 0;
  }
  let last = '';
  for (;;) {
    const s = await read();
    const line = describeReencryption(s);
    const done = s?.phase === 'Completed' || s?.phase === 'Failed';
    if (out.isTTY && s) out.write(`\r\x1b[2K${progressBar(s)} ${line}`);
    else if (line !== last) out.write(`${line}\n`);
    last = line;
    if (done) {
      if (out.isTTY) out.write('\n');
      return s?.phase === 'Completed' ? 0 : 1;
    }
    await new Promise((r) => setTimeout(r, Number(flags.interval)));
  }
}
