/**
 * Self-check of the harness against whatever KMS v2 plugin KUBEKMS_PLUGIN_CMD starts (default: the kubekms CLI):
 *   node test/controlplane/harness.selfcheck.ts [1.36|1.31]
 * Starts etcd + plugin + kube-apiserver, creates a Secret with kubectl, checks that etcd holds it under
 * `k8s:enc:kms:v2:kubekms:` without the plaintext, decodes the EncryptedObject, restarts the apiserver and reads
 * the Secret back, then checks the KMS health check and metrics. Exit code 0 = harness and plugin work end to end.
 */
import { cleanup, decodeEncryptedObject, etcdKey, type KubeVersion, startControlPlane } from './harness.ts';

const version: KubeVersion = process.argv[2] === '1.31' ? '1.31' : '1.36';
const check = (ok: boolean, what: string): void => {
  if (!ok) throw new Error(`selfcheck failed: ${what}`);
  console.log(`ok   ${what}`);
};

let failed = true;
try {
  const t0 = Date.now();
  const cp = await startControlPlane({ version });
  console.log(
    `kube-apiserver ${version} ready in ${Date.now() - t0} ms (etcd+plugin+apiserver) at ${cp.apiserver.url}`,
  );
  const api = cp.apiserver;
  const plaintext = `selfcheck-${Date.now()}-plaintext`;
  await api.kubectl(['create', 'namespace', 'selfcheck']);
  await api.kubectl([
    '-n',
    'selfcheck',
    'create',
    'secret',
    'generic',
    's1',
    `--from-literal=v=${plaintext}`,
  ]);
  const raw = await cp.etcd.get(etcdKey('secrets', 'selfcheck', 's1'));
  check(raw !== undefined, 'secret stored in etcd');
  check(
    raw?.subarray(0, 23).toString('latin1') === 'k8s:enc:kms:v2:kubekms:',
    'etcd value has prefix k8s:enc:kms:v2:kubekms:',
  );
  check(!raw?.includes(plaintext), 'plaintext absent from the etcd value');
  const obj = decodeEncryptedObject(raw ?? Buffer.alloc(0));
  console.log(
    `     keyID=${JSON.stringify(obj.keyID)} dekSourceType=${obj.encryptedDEKSourceType} ` +
      `encryptedDEKSource=${obj.encryptedDEKSource.length} B encryptedData=${obj.encryptedData.length} B ` +
      `annotations=${JSON.stringify(Object.keys(obj.annotations))}`,
  );
  check(
    obj.keyID.length > 0 && obj.encryptedDEKSource.length > 0,
    'EncryptedObject decodes with keyID and DEK source',
  );
  const cm = await cp.etcd.keys('/registry/namespaces/');
  check(cm.includes('/registry/namespaces/selfcheck'), 'etcd keys() lists the namespace');
  const t1 = Date.now();
  await api.restart();
  console.log(`     apiserver restart to ready in ${Date.now() - t1} ms`);
  const back = await api.kubectl(['-n', 'selfcheck', 'get', 'secret', 's1', '-o', 'jsonpath={.data.v}']);
  check(
    Buffer.from(back, 'base64').toString('utf8') === plaintext,
    'secret decrypts after apiserver restart',
  );
  const health = await api.request('/healthz/kms-providers');
  check(
    health.status === 200 && health.body.trim() === 'ok',
    `/healthz/kms-providers = ${health.body.trim()}`,
  );
  const metrics = await api.metrics();
  check(/apiserver_envelope_encryption_/.test(metrics), 'metrics expose apiserver_envelope_encryption_*');
  failed = false;
} finally {
  await cleanup({ failed });
}
