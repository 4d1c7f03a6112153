/** Helpers for the operator suites: kubectl with YAML/JSON, objects and Events of the kubekms.io kinds. */
import { join } from 'node:path';
import {
  type Apiserver,
  type ControlPlane,
  createRunDir,
  defaultPluginCommand,
  type KubeVersion,
  type Plugin,
  REPO_ROOT,
  startControlPlane,
} from '../controlplane/harness.ts';
import { waitFor } from './secrets.ts';

export const CRD_DIR = join(REPO_ROOT, 'crds');

export interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  observedGeneration?: number;
}

export interface Obj {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation: number;
    finalizers?: string[];
    deletionTimestamp?: string;
  };
  spec: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: Condition[]; observedGeneration?: number };
}

export interface KubeEvent {
  reason: string;
  type: string;
  note: string;
  action: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { kind: string; name: string; namespace: string };
  series?: { count: number };
}

export async function installCrds(api: Apiserver): Promise<void> {
  await api.kubectl(['apply', '-f', CRD_DIR]);
  await api.kubectl(['wait', '--for=condition=Established', 'crd', '--all', '--timeout=60s']);
}

/**
 * A real control plane (kube-apiserver 1.36, or `version`) whose KMS v2 plugin is `kubekms serve --operator` with `flags`, the
 * operator using the apiserver's admin kubeconfig, and the kubekms CRDs installed.
 */
export async function startOperatorControlPlane(
  runDirPrefix: string,
  flags: readonly string[] | (() => readonly string[]),
  version: KubeVersion = '1.36',
): Promise<ControlPlane> {
  const dir = createRunDir(runDirPrefix);
  const cp = await startControlPlane({
    version,
    dir,
    plugin: {
      command: (p) => [
        ...defaultPluginCommand(p),
        '--operator',
        '--kubeconfig',
        join(dir, 'kubeconfig'),
        // A function is read at every (re)start, so a suite can change the flags between restarts.
        ...(typeof flags === 'function' ? flags() : flags),
      ],
    },
  });
  await installCrds(cp.apiserver);
  return cp;
}

/** Waits until the plugin's /readyz says it holds the operator's leadership. */
export async function waitOperatorLeader(plugin: Plugin): Promise<void> {
  await waitFor(
    'operator leader',
    async () => {
      const r = await fetch(`http://${plugin.healthListen}/readyz`);
      return (await r.text()).includes('[+]operator leader') ? true : undefined;
    },
    60_000,
    250,
  );
}

export const apply = (api: Apiserver, yaml: string): Promise<string> =>
  api.kubectl(['apply', '-f', '-'], { input: yaml });

/** `kubectl patch --type=merge` of the object's spec: `spec` is merged into it (a null removes a field). */
export const patchSpec = (
  api: Apiserver,
  kind: string,
  ns: string,
  name: string,
  spec: unknown,
): Promise<string> =>
  api.kubectl(['patch', kind, '-n', ns, name, '--type=merge', '-p', JSON.stringify({ spec })]);

export async function get(api: Apiserver, kind: string, ns: string, name: string): Promise<Obj | undefined> {
  try {
    return JSON.parse(await api.kubectl(['get', kind, '-n', ns, name, '-o', 'json'])) as Obj;
  } catch (e) {
    if (/NotFound/.test(String(e))) return undefined;
    throw e;
  }
}

export const ready = (o: Obj | undefined): Condition | undefined =>
  o?.status?.conditions?.find((c) => c.type === 'Ready');

/** Waits until the object satisfies `pred` (and its status describes the current generation). */
export function waitObj(
  api: Apiserver,
  kind: string,
  ns: string,
  name: string,
  what: string,
  pred: (o: Obj) => boolean,
  timeoutMs = 30_000,
): Promise<Obj> {
  return waitFor(
    `${kind} ${ns}/${name}: ${what}`,
    async () => {
      const o = await get(api, kind, ns, name);
      return o && o.status?.observedGeneration === o.metadata.generation && pred(o) ? o : undefined;
    },
    timeoutMs,
    250,
  );
}

/** Waits until the object's Ready condition is True (for its current generation) and returns it. */
export const waitReady = (api: Apiserver, kind: string, ns: string, name: string): Promise<Obj> =>
  waitObj(api, kind, ns, name, 'Ready', (x) => ready(x)?.status === 'True');

export const waitGone = (api: Apiserver, kind: string, ns: string, name: string, timeoutMs = 30_000) =>
  waitFor(
    `${kind} ${ns}/${name} gone`,
    async () => ((await get(api, kind, ns, name)) ? undefined : true),
    timeoutMs,
    250,
  );

export async function events(api: Apiserver, ns: string): Promise<KubeEvent[]> {
  const out = JSON.parse(await api.kubectl(['get', 'events.events.k8s.io', '-n', ns, '-o', 'json'])) as {
    items: KubeEvent[];
  };
  return out.items;
}

/** Waits for an Event with `reason` about `name` (and a note matching `note`, if given). */
export function waitEvent(
  api: Apiserver,
  ns: string,
  name: string,
  reason: string,
  note?: RegExp,
  timeoutMs = 30_000,
): Promise<KubeEvent> {
  return waitFor(
    `Event ${reason} for ${ns}/${name}`,
    async () =>
      (await events(api, ns)).find(
        (e) => e.regarding.name === name && e.reason === reason && (note === undefined || note.test(e.note)),
      ),
    timeoutMs,
    250,
  );
}

/** `kubectl apply --dry-run=server` of a manifest: the error text, or '' when accepted. */
export async function dryRunError(api: Apiserver, yaml: string): Promise<string> {
  try {
    await api.kubectl(['apply', '--dry-run=server', '-f', '-'], { input: yaml });
    return '';
  } catch (e) {
    return String(e);
  }
}

export function kmsKey(ns: string, name: string, spec: string): string {
  return `apiVersion: kubekms.io/v1alpha1\nkind: KmsKey\nmetadata: {name: ${name}, namespace: ${ns}}\nspec: ${spec}\n`;
}
