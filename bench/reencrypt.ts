/**
 * Re-encryption throughput on a real kube-apiserver 1.36 + etcd with kubekms as its KMS v2 plugin, same run:
 * the operator's pass (`--reencrypt-qps 0`, i.e. the default rate limit lifted) vs the documented manual way,
 * `kubectl get secrets -A -o json | kubectl replace -f -`, each rewriting the same N stale Secrets after a
 * rotation. Prints objects/s of each and the ratio kubekms / kubectl (goal ≥ 1.0).
 *   node bench/reencrypt.ts [secrets] [namespaces]
 * Needs the control-plane binaries (bash test/controlplane/build.sh all).
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  binaries,
  type ControlPlane,
  cleanup,
  decodeEncryptedObject,
  type Plugin,
} from '../test/controlplane/harness.ts';
import { MAIN } from '../test/e2e/lifecycle.ts';
import { startOperatorControlPlane } from '../test/e2e/operator-helpers.ts';
import { applySecrets, newSecret, type SecretSpec } from '../test/e2e/secrets.ts';

const COUNT = Number(process.argv[2] ?? 2000);
const NAMESPACES = Number(process.argv[3] ?? 20);
const DELAY_S = 45;

const flags: string[] = [];
let cp: ControlPlane;
let plugin: Plugin;

async function keyIds(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const raw of (await cp.etcd.getPrefix('/registry/secrets/')).values()) {
    const id = decodeEncryptedObject(raw).keyID;
    out.set(id, (out.get(id) ?? 0) + 1);
  }
  return out;
}

async function rotate(): Promise<void> {
  await plugin.stop();
  execFileSync(process.execPath, [
    MAIN,
    'key',
    'rotate',
    'alias/kubekms/secrets',
    '--dev',
    '--data-dir',
    plugin.dataDir,
  ]);
  plugin = await plugin.restart();
}

/** Waits until a fresh write lands under a key_id other than `old` (forcing Status via the health check). */
async function waitSwitch(old: string): Promise<string> {
  const probe = newSecret('default', 'bench-probe');
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await sleep(2000)) {
    await cp.apiserver.request('/readyz/kms-providers');
    await applySecrets(cp.apiserver, [probe]);
    const raw = await cp.etcd.get('/registry/secrets/default/bench-probe');
    const id = raw ? decodeEncryptedObject(raw).keyID : old;
    if (id !== old) return id;
  }
  throw new Error('the API server did not switch key_id');
}

async function mirrorStatus(): Promise<Record<string, unknown> | undefined> {
  const o = JSON.parse(
    await cp.apiserver.kubectl(['get', 'kmskey', '-n', 'kubekms', 'secrets', '-o', 'json']),
  ) as {
    status?: { reencryption?: Record<string, unknown> };
  };
  return o.status?.reencryption;
}

function onlyKey(m: Map<string, number>): string {
  if (m.size !== 1) throw new Error(`expected one key_id in etcd, got ${JSON.stringify([...m])}`);
  return [...m.keys()][0] ?? '';
}

async function main(): Promise<void> {
  cp = await startOperatorControlPlane('kubekms-bench-re-', [
    '--reencrypt-delay',
    `${DELAY_S}s`,
    '--reencrypt-qps',
    '0',
    ...flags,
  ]);
  const secrets: SecretSpec[] = [];
  for (let i = 0; i < COUNT; i++) secrets.push(newSecret(`bench${i % NAMESPACES}`, `s${i}`));
  for (let n = 0; n < NAMESPACES; n++) await cp.apiserver.kubectl(['create', 'namespace', `bench${n}`]);
  for (let i = 0; i < secrets.length; i += 500) await applySecrets(cp.apiserver, secrets.slice(i, i + 500));
  await applySecrets(cp.apiserver, [newSecret('default', 'bench-probe')]);
  const n = COUNT + 1;

  // 1. kubectl, with kubekms's re-encryption off: rotate, wait for the switch, replace everything.
  flags.push('--reencrypt-resources=');
  plugin = cp.plugin!;
  const v1 = onlyKey(await keyIds());
  await rotate();
  const v2 = await waitSwitch(v1);
  const t = performance.now();
  await new Promise<void>((resolve, reject) => {
    const sh = spawn(
      'sh',
      [
        '-c',
        `kubectl --kubeconfig ${cp.apiserver.kubeconfigPath} get secrets -A -o json | kubectl --kubeconfig ${cp.apiserver.kubeconfigPath} replace -f - >/dev/null`,
      ],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
        env: { ...process.env, PATH: `${join(binaries('1.36').kubectl, '..')}:${process.env.PATH}` },
      },
    );
    sh.on('exit', (c) => (c === 0 ? resolve() : reject(new Error(`kubectl replace exited ${c}`))));
  });
  const kubectlS = (performance.now() - t) / 1000;
  if (onlyKey(await keyIds()) !== v2) throw new Error('kubectl left objects under the old key');

  // 2. kubekms's pass, rate limit lifted: rotate again (the operator waits DELAY_S, then rewrites).
  flags.pop();
  await rotate();
  const v3 = await waitSwitch(v2);
  let s: Record<string, unknown> | undefined;
  for (;;) {
    s = await mirrorStatus();
    if (s?.keyVersion === 3 && (s.phase === 'Completed' || s.phase === 'Failed')) break;
    await sleep(500);
  }
  const kubekmsS = (Date.parse(String(s.finishedAt)) - Date.parse(String(s.startedAt))) / 1000;
  if (onlyKey(await keyIds()) !== v3) throw new Error('kubekms left objects under the old key');

  const kubectlRate = n / kubectlS;
  const kubekmsRate = Number(s.done) / kubekmsS;
  console.log(`objects: ${n} Secrets in ${NAMESPACES} namespaces (+1 probe), node ${process.version}`);
  console.log(
    `kubectl get -A -o json | kubectl replace -f -: ${kubectlS.toFixed(1)} s, ${kubectlRate.toFixed(0)} objects/s`,
  );
  console.log(
    `kubekms pass (--reencrypt-qps 0):             ${kubekmsS.toFixed(1)} s, ${kubekmsRate.toFixed(0)} objects/s (${s.done} rewritten, ${s.failed} failed)`,
  );
  console.log(`ratio kubekms / kubectl: ${(kubekmsRate / kubectlRate).toFixed(2)}`);
}

try {
  await main();
  await cleanup({ failed: false });
} catch (e) {
  console.error(e);
  await cleanup({ failed: true });
  process.exitCode = 1;
}
