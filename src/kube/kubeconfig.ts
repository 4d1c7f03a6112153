/**
 * The one kubeconfig loader: `--kubeconfig PATH`, else $KUBECONFIG, ~/.kube/config, or the in-cluster service
 * account, in that order. Never client-node's silent fallback to http://localhost:8080: no usable kubeconfig is an
 * error that says why.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

export type { KubeConfig };

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Loads the kubeconfig; throws an Error naming the reason when none is usable. */
export function loadKubeConfig(path: string): KubeConfig {
  const source = sourceOf(path);
  if (!source)
    throw new Error(
      'no kubeconfig: --kubeconfig is empty, $KUBECONFIG is unset, no ~/.kube/config, not in a pod',
    );
  const kc = new KubeConfig();
  try {
    if (source === 'file') kc.loadFromFile(path);
    else if (source === 'default') kc.loadFromDefault();
    else kc.loadFromCluster();
  } catch (e) {
    throw new Error(
      `cannot load the kubeconfig ${path || '(default)'}: ${e instanceof Error ? e.message : String(e)}`,
    );
  }
  if (!kc.getCurrentCluster())
    throw new Error(`the kubeconfig ${path || '(default)'} has no current cluster`);
  return kc;
}

function sourceOf(path: string): 'file' | 'default' | 'cluster' | undefined {
  if (path) return 'file';
  if (process.env.KUBECONFIG || existsSync(join(homedir(), '.kube', 'config'))) return 'default';
  if (existsSync(SERVICE_ACCOUNT_TOKEN)) return 'cluster';
  return undefined;
}

/** The kubeconfig, or why none is usable: for reports that skip their API checks instead of failing. */
export function kubeConfigOrReason(path: string): KubeConfig | string {
  try {
    return loadKubeConfig(path);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}
