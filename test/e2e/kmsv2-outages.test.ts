/**
 * kubekms outages seen from a real kube-apiserver (v1.36): kubekms down while the apiserver starts, and kubekms
 * killed while it runs. Issue: real control plane, tests 4 and 6.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type Apiserver,
  createPki,
  createRunDir,
  type Etcd,
  encryptionConfigYaml,
  type Plugin,
  startApiserver,
  startEtcd,
  startPlugin,
} from '../controlplane/harness.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import {
  applySecrets,
  createNamespace,
  newSecret,
  readAllSecrets,
  readSecret,
  type SecretSpec,
  waitFor,
} from './secrets.ts';

keepLogsOnFailure();

let dir: string;
let etcd: Etcd;
let api: Apiserver;
let plugin: Plugin | undefined;
const socketOf = (d: string) => `${d}/kms.sock`;
const written: SecretSpec[] = [];

async function expectAllReadable(): Promise<void> {
  const values = await readAllSecrets(api, 'outage');
  for (const s of written) expect(values.get(s.name)).toBe(s.value);
}

async function canWrite(name: string): Promise<boolean> {
  const s = newSecret('outage', name);
  try {
    await applySecrets(api, [s]);
    written.push(s);
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  dir = createRunDir('kubekms-e2e-outage-');
  await createPki(dir);
  etcd = await startEtcd(dir);
}, 120_000);

describe('kubekms outages', () => {
  it('kubekms down when kube-apiserver starts: readyz fails, then recovers without an apiserver restart', async () => {
    api = await startApiserver({
      dir,
      etcd,
      encryptionConfig: encryptionConfigYaml({ socket: socketOf(dir) }),
      waitReady: false,
    });
    const notReady = await waitFor(
      'readyz to report the kms provider',
      async () => {
        const r = await api.request('/readyz?verbose');
        return r.body.includes('kms-providers') ? r : undefined;
      },
      120_000,
    );
    expect(notReady.status).not.toBe(200);
    expect(notReady.body).toMatch(/\[-\]kms-providers/);
    plugin = await startPlugin({ dir, socket: socketOf(dir) });
    await api.waitReady(120_000);
    await createNamespace(api, 'outage');
    expect(await canWrite('after-start')).toBe(true);
    await expectAllReadable();
  });

  it('kubekms killed while kube-apiserver runs: cached reads work, writes stop after the expiry, and resume when kubekms returns', async () => {
    for (let i = 0; i < 5; i++) expect(await canWrite(`before-kill-${i}`)).toBe(true);
    const killedAt = Date.now();
    process.kill(plugin!.process.pid, 'SIGKILL');
    await plugin!.stop();
    // Writes keep working from the cached DEK for at most 3 minutes after the last good Status (+ one poll).
    let i = 0;
    const failedAt = await waitFor(
      'writes to fail without kubekms',
      async () => {
        await expectAllReadable();
        return (await canWrite(`during-outage-${i++}`)) ? undefined : Date.now();
      },
      6 * 60_000,
      15_000,
    );
    const outageMs = failedAt - killedAt;
    expect(outageMs).toBeGreaterThan(60_000);
    expect(outageMs).toBeLessThan(5 * 60_000);
    await expectAllReadable();
    plugin = await startPlugin({ dir, socket: socketOf(dir), dataDir: plugin!.dataDir });
    await waitFor(
      'writes to work again',
      async () => ((await canWrite(`after-outage-${i++}`)) ? true : undefined),
      120_000,
      5_000,
    );
    await api.restart();
    await expectAllReadable();
    expect(await readSecret(api, written[0]!)).toBe(written[0]!.value);
  });
});
