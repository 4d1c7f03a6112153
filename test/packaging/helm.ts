/** helm from the Go module proxy (built and cached by build-helm.sh), run over charts/kubekms. */
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { REPO_ROOT } from '../controlplane/harness.ts';
import { type ExecResult, exec, must } from './exec.ts';

export const CHART = join(REPO_ROOT, 'charts', 'kubekms');
export const FULL_VALUES = join(REPO_ROOT, 'test', 'packaging', 'values-full.yaml');

/** Builds helm on a cache miss (about 2 minutes) and returns its path. */
export async function helmBinary(): Promise<string> {
  const out = await must('bash', [join(REPO_ROOT, 'test', 'packaging', 'build-helm.sh')], {
    timeoutMs: 600_000,
  });
  return out.trim().split('\n').pop() ?? '';
}

/** `helm template` of the chart into namespace kubekms, with extra args (-f, --set, --api-versions). */
export function helmTemplate(helm: string, args: readonly string[] = []): Promise<ExecResult> {
  return exec(helm, ['template', 'kubekms', CHART, '--namespace', 'kubekms', ...args]);
}

/** The `kind:` of each document of a multi-document YAML stream. */
export function kinds(yaml: string): string[] {
  return [...yaml.matchAll(/^kind: (\S+)$/gm)].map((m) => m[1]!);
}

export interface Container {
  name: string;
  command?: string[];
  args?: string[];
  ports?: { name: string; containerPort: number }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

export interface Volume {
  name: string;
  secret?: { secretName: string; defaultMode?: number; items?: { key: string; path: string }[] };
  emptyDir?: Record<string, unknown>;
  persistentVolumeClaim?: { claimName: string };
}

export interface PodSpec {
  initContainers?: Container[];
  containers: Container[];
  volumes?: Volume[];
  securityContext?: { fsGroup?: number; runAsUser?: number };
}

export interface NetworkPolicyRule {
  ports?: { port: string | number; protocol?: string }[];
  from?: Record<string, unknown>[];
}

/** The spec members of the kinds the chart renders that the tests read. */
export interface ManifestSpec {
  replicas?: number;
  template?: { spec: PodSpec };
  type?: string;
  ports?: { name: string; port: number; targetPort: string | number }[];
  podSelector?: { matchLabels?: Record<string, string> };
  ingress?: NetworkPolicyRule[];
  secretName?: string;
  dnsNames?: string[];
  issuerRef?: { name: string; kind: string; group: string };
  [member: string]: unknown;
}

/** One object of a rendered manifest (the members the tests read). */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: ManifestSpec;
  rules?: { apiGroups: string[]; resources: string[]; verbs: string[] }[];
}

/** The objects of a multi-document YAML stream (empty documents dropped). */
export function manifests(yaml: string): Manifest[] {
  return loadAll(yaml).filter((d): d is Manifest => typeof d === 'object' && d !== null);
}

/** The one object of `kind` named `name` (throws when absent). */
export function find(yaml: string, kind: string, name: string): Manifest {
  const m = manifests(yaml).find((o) => o.kind === kind && o.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} rendered`);
  return m;
}
