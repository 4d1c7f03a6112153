/**
 * Developer cluster: etcd + KMS plugin + kube-apiserver that keep running after this script exits.
 * Run through up.sh (which builds on a cache miss). Stop with down.sh.
 * Env: KUBEKMS_CLUSTER_DIR (default /tmp/kubekms-cluster), KUBEKMS_KUBE_VERSION (1.36|1.31, default 1.36),
 *      KUBEKMS_PLUGIN_CMD (shell command; {socket} {dataDir} {healthListen} {dir} substituted),
 *      KUBEKMS_NO_PLUGIN=1 (no plugin, no encryption config).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KubeVersion, startControlPlane } from './harness.ts';

const dir = process.env.KUBEKMS_CLUSTER_DIR || '/tmp/kubekms-cluster';
const marker = join(dir, '.kubekms-cluster');
const version: KubeVersion = process.env.KUBEKMS_KUBE_VERSION === '1.31' ? '1.31' : '1.36';

if (existsSync(join(dir, 'pids')) && readdirSync(join(dir, 'pids')).length > 0) {
  console.error(`${dir} has running processes (pids/); run test/controlplane/down.sh first`);
  process.exit(1);
}
if (existsSync(dir)) {
  if (!existsSync(marker) && readdirSync(dir).length > 0) {
    console.error(`${dir} exists and was not created by up.sh; refusing to reuse it`);
    process.exit(1);
  }
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(dir, { recursive: true });
writeFileSync(marker, '');

const started = Date.now();
try {
  const cp = await startControlPlane({
    dir,
    version,
    killOnExit: false,
    ...(process.env.KUBEKMS_NO_PLUGIN === '1' ? { plugin: false as const } : {}),
  });
  const env = [
    `export KUBECONFIG=${cp.kubeconfigPath}`,
    `export KUBEKMS_APISERVER_URL=${cp.apiserver.url}`,
    `export KUBEKMS_ETCD_ENDPOINT=${cp.etcd.endpoint}`,
    ...(cp.plugin
      ? [
          `export KUBEKMS_SOCKET=${cp.plugin.socket}`,
          `export KUBEKMS_HEALTH_LISTEN=${cp.plugin.healthListen}`,
        ]
      : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'env.sh'), env);
  console.log(
    `kube-apiserver ${cp.apiserver.version} ready at ${cp.apiserver.url} in ${Date.now() - started} ms`,
  );
  console.log(`logs:       ${dir}/logs/`);
  console.log(`kubeconfig: ${cp.kubeconfigPath}`);
  console.log(`env:        source ${dir}/env.sh`);
} catch (e) {
  console.error(e instanceof Error ? e.message : e);
  console.error(
    `startup failed; logs in ${dir}/logs/ (run test/controlplane/down.sh to stop what did start)`,
  );
  process.exit(1);
}
