/**
 * `kubekms static-pod`: prints the static-pod manifest that runs kubekms next to kube-apiserver on a control-plane
 * node (drop it into /etc/kubernetes/manifests/). A pure function of its flags; `deploy/static-pod.yaml` is the
 * default rendering (a unit test keeps them equal).
 *
 * The pod needs no Kubernetes API, Secret or ServiceAccount token: the root key and the keystore are hostPath
 * files, the plugin socket directory is a hostPath shared with kube-apiserver. It runs as root because the socket
 * is root-owned mode 0600 (kube-apiserver connects as root), but with every capability dropped, a read-only root
 * filesystem, no privilege escalation and the runtime's default seccomp profile.
 */
import { type CommandModule, noPositionals, parseCommandFlags } from './commands.ts';
import { type FlagSpec, type FlagValuesOf, UsageError } from './flags.ts';

export const STATIC_POD_FLAGS = [
  { name: 'image', type: 'string', default: 'kubekms/kubekms:0.1.0', help: 'Container image of kubekms.' },
  {
    name: 'root-key-file',
    type: 'path',
    default: '/etc/kubekms/root.key',
    help: 'Host path of the root key file (32 random bytes, mode 0600), mounted read-only at the same path.',
  },
  {
    name: 'data-dir',
    type: 'path',
    default: '/var/lib/kubekms',
    help: 'Host path of the local keystore, mounted at the same path.',
  },
  {
    name: 'kms-socket',
    type: 'path',
    default: '/var/run/kubekms/kms.sock',
    help: "Plugin socket; its directory is the hostPath shared with kube-apiserver (the EncryptionConfiguration's endpoint).",
  },
  {
    name: 'health-listen',
    type: 'string',
    default: '127.0.0.1:9810',
    help: 'HOST:PORT of /livez, /readyz and /metrics on the host network (the probes use it).',
  },
  {
    name: 'log-level',
    type: { oneOf: ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] },
    default: 'info',
    help: 'Log level.',
  },
  { name: 'namespace', type: 'string', default: 'kube-system', help: 'Namespace of the mirror pod.' },
  {
    name: 'operator-kubeconfig',
    type: 'path',
    default: '',
    help: 'Host path of a kubeconfig: also run the operator in this pod (same engine as the plugin), mounted read-only. Empty: plugin only.',
  },
  {
    name: 'operator-namespace',
    type: 'string',
    default: 'kubekms',
    help: "With --operator-kubeconfig: kubekms's namespace (the Lease, the Secrets key mirror).",
  },
  {
    name: 'shared-state',
    type: 'boolean',
    default: false,
    help: 'HA: share key state with the kubekms pods of the other control-plane nodes through the API (needs --operator-kubeconfig; docs/ha.md).',
  },
  { name: 'cpu-request', type: 'string', default: '50m', help: 'CPU request.' },
  { name: 'memory-request', type: 'string', default: '64Mi', help: 'Memory request.' },
  { name: 'memory-limit', type: 'string', default: '512Mi', help: 'Memory limit.' },
] as const satisfies readonly FlagSpec[];

type StaticPodFlags = FlagValuesOf<typeof STATIC_POD_FLAGS>;

export const staticPodCommand: CommandModule = {
  flags: STATIC_POD_FLAGS,
  async run(argv, io) {
    const { values, positionals } = parseCommandFlags(STATIC_POD_FLAGS, argv, io);
    noPositionals('static-pod', positionals);
    io.out(renderStaticPod(staticPodOptions(values)));
    return 0;
  },
};

export interface StaticPodOptions {
  image: string;
  rootKeyFile: string;
  dataDir: string;
  kmsSocket: string;
  healthListen: string;
  logLevel: string;
  namespace: string;
  /** Empty: no operator. */
  operatorKubeconfig: string;
  operatorNamespace: string;
  /** HA (needs operatorKubeconfig): the key state is shared through the API. */
  sharedState: boolean;
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
}

const SAFE = /^[A-Za-z0-9._:@/+=-]+$/;

function need(flags: StaticPodFlags, name: keyof StaticPodFlags, pattern: RegExp = SAFE): string {
  const v = String(flags[name]);
  if (!pattern.test(v)) throw new UsageError(`--${name}: unsupported value ${JSON.stringify(v)}`);
  return v;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const absolute = /^\/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$/;

export function staticPodOptions(flags: StaticPodFlags): StaticPodOptions {
  const healthListen = need(flags, 'health-listen', /^[0-9.]+:[0-9]{1,5}$/);
  const sharedState = flags['shared-state'];
  if (sharedState && !flags['operator-kubeconfig']) {
    throw new UsageError(
      '--shared-state: needs --operator-kubeconfig (the shared key state lives in the API)',
    );
  }
  return {
    image: need(flags, 'image'),
    rootKeyFile: need(flags, 'root-key-file', absolute),
    dataDir: need(flags, 'data-dir', absolute),
    kmsSocket: need(flags, 'kms-socket', absolute),
    healthListen,
    logLevel: need(flags, 'log-level'),
    namespace: need(flags, 'namespace', DNS_LABEL),
    operatorKubeconfig: flags['operator-kubeconfig'] ? need(flags, 'operator-kubeconfig', absolute) : '',
    operatorNamespace: need(flags, 'operator-namespace', DNS_LABEL),
    sharedState,
    cpuRequest: need(flags, 'cpu-request'),
    memoryRequest: need(flags, 'memory-request'),
    memoryLimit: need(flags, 'memory-limit'),
  };
}

const dirname = (p: string): string => p.slice(0, p.lastIndexOf('/')) || '/';

/** The manifest as YAML text. Values are validated by staticPodOptions (no quoting needed). */
export function renderStaticPod(o: StaticPodOptions): string {
  const socketDir = dirname(o.kmsSocket);
  const colon = o.healthListen.lastIndexOf(':');
  const host = o.healthListen.slice(0, colon);
  const port = o.healthListen.slice(colon + 1);
  const probeHost = host === '0.0.0.0' ? '127.0.0.1' : host;
  const op = o.operatorKubeconfig;
  const operatorArgs = op
    ? `        - --operator\n        - --kubeconfig=${op}\n        - --namespace=${o.operatorNamespace}\n${o.sharedState ? '        - --shared-state\n' : ''}`
    : '';
  const operatorMount = op ? `        - {name: kubeconfig, mountPath: ${op}, readOnly: true}\n` : '';
  const operatorVolume = op ? `    - name: kubeconfig\n      hostPath: {path: ${op}, type: File}\n` : '';
  const probe = (kind: string, path: string, period: number, failures: number) =>
    `      ${kind}:
        httpGet: {host: ${probeHost}, port: ${port}, path: ${path}, scheme: HTTP}
        periodSeconds: ${period}
        timeoutSeconds: 5
        failureThreshold: ${failures}`;
  return `# kubekms as a static pod next to kube-apiserver: copy to /etc/kubernetes/manifests/kubekms.yaml on every
# control-plane node. Rendered by \`kubekms static-pod\` (see docs/install.md); needs no Kubernetes API, Secret or
# ServiceAccount token. kube-apiserver mounts ${socketDir} too and reads the EncryptionConfiguration in
# deploy/encryption-config.yaml.
apiVersion: v1
kind: Pod
metadata:
  name: kubekms
  namespace: ${o.namespace}
  labels:
    app.kubernetes.io/name: kubekms
    app.kubernetes.io/component: kms-plugin
    tier: control-plane
spec:
  hostNetwork: true
  priorityClassName: system-node-critical
  automountServiceAccountToken: false
  enableServiceLinks: false
  terminationGracePeriodSeconds: 30
  securityContext:
    seccompProfile: {type: RuntimeDefault}
  containers:
    - name: kubekms
      image: ${o.image}
      imagePullPolicy: IfNotPresent
      args:
        - --root-key-file=${o.rootKeyFile}
        - --data-dir=${o.dataDir}
        - --kms-socket=${o.kmsSocket}
        - --socket-mode=0600
        - --health-listen=${o.healthListen}
        - --log-level=${o.logLevel}
${operatorArgs}      securityContext:
        runAsUser: 0
        runAsGroup: 0
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities: {drop: [ALL]}
        seccompProfile: {type: RuntimeDefault}
      resources:
        requests: {cpu: ${o.cpuRequest}, memory: ${o.memoryRequest}}
        limits: {memory: ${o.memoryLimit}}
${probe('startupProbe', '/livez', 2, 60)}
${probe('livenessProbe', '/livez', 10, 6)}
${probe('readinessProbe', '/readyz', 5, 3)}
      volumeMounts:
        - {name: kms-socket, mountPath: ${socketDir}}
        - {name: data, mountPath: ${o.dataDir}}
        - {name: root-key, mountPath: ${o.rootKeyFile}, readOnly: true}
${operatorMount}  volumes:
    - name: kms-socket
      hostPath: {path: ${socketDir}, type: DirectoryOrCreate}
    - name: data
      hostPath: {path: ${o.dataDir}, type: DirectoryOrCreate}
    - name: root-key
      hostPath: {path: ${o.rootKeyFile}, type: File}
${operatorVolume}`;
}
