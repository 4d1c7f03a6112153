/** `kubekms serve --shared-state` as one control-plane node runs it, for the HA and doctor suites. */
import { join } from 'node:path';
import {
  type Apiserver,
  type Etcd,
  encryptionConfigYaml,
  type Pki,
  type Plugin,
  REPO_ROOT,
  startApiserver,
  startPlugin,
} from '../controlplane/harness.ts';
import { MAIN } from './lifecycle.ts';
import { waitFor } from './secrets.ts';

export interface SharedStateInstance {
  /** The run dir: the socket is `<dir>/<name>.sock`, the keystore cache `<dir>/data-<name>`. */
  readonly dir: string;
  /** Instance name (its heartbeat Lease is `kubekms-instance-<name>`). */
  readonly name: string;
  readonly rootKeyFile: string;
  /** Read at every (re)start. */
  readonly kubeconfig: () => string;
  readonly namespace?: string;
  readonly extraArgs?: readonly string[];
  readonly timeoutMs?: number;
}

export function startSharedStateKubekms(o: SharedStateInstance): Promise<Plugin> {
  return startPlugin({
    dir: o.dir,
    name: `kubekms-${o.name}`,
    socket: join(o.dir, `${o.name}.sock`),
    dataDir: join(o.dir, `data-${o.name}`),
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    command: (p) => [
      process.execPath,
      MAIN,
      'serve',
      ...['--root-key-file', o.rootKeyFile, '--data-dir', p.dataDir],
      ...['--kms-socket', p.socket, '--health-listen', p.healthListen],
      ...['--shared-state', '--kubeconfig', o.kubeconfig(), '--namespace', o.namespace ?? 'kubekms'],
      ...['--instance-name', o.name],
      ...(o.extraArgs ?? []),
    ],
  });
}

/**
 * The API server of control-plane node `name` (all nodes share one etcd) whose KMS v2 provider is `socket`; it
 * starts before its plugin listens, as on a booting node.
 */
export function startNodeApiserver(
  cp: { readonly dir: string; readonly etcd: Etcd; readonly pki: Pki },
  name: string,
  socket: string,
): Promise<Apiserver> {
  return startApiserver({
    ...cp,
    name: `apiserver-${name}`,
    encryptionConfig: encryptionConfigYaml({ socket }),
    waitReady: false,
  });
}

/** /livez answers before /readyz: the API serves kubekms's own (unencrypted) objects without the plugin. */
export async function waitLive(api: Apiserver): Promise<void> {
  await waitFor(
    'kube-apiserver /livez',
    async () => ((await api.request('/livez')).status === 200 ? true : undefined),
    120_000,
    500,
  );
}

/** Makes an API server ready for `--shared-state`: the KmsStateRecord CRD established, and the namespace created. */
export async function prepareSharedState(api: Apiserver, namespace = 'kubekms'): Promise<void> {
  await api.kubectl(['apply', '-f', join(REPO_ROOT, 'crds', 'kubekms.io_kmsstaterecords.yaml')]);
  await api.kubectl([
    'wait',
    '--for=condition=Established',
    'crd/kmsstaterecords.kubekms.io',
    '--timeout=60s',
  ]);
  await api.kubectl(['create', 'namespace', namespace]);
}
