/**
 * The core checks against kube-apiserver v1.31, the last release that sends the (percent-encoded) socket path as
 * the HTTP/2 :authority. Issue: real control plane, test 7. Also: 1.31 already shows what the re-encryption
 * operator watches to know the API servers switched (issue 18): key_id writes in /metrics, identity Leases.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  IDENTITY_LEASE_NAMESPACE,
  IDENTITY_LEASE_SELECTOR,
  type IdentityLeaseLike,
  liveApiservers,
  parseKeyIdWrites,
  sha256Label,
} from '../../src/api/apiserver-writes.ts';
import { decideSwitchover } from '../../src/operator/switch-decisions.ts';
import { type ControlPlane, createRunDir, startControlPlane } from '../controlplane/harness.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import {
  applySecrets,
  createNamespace,
  newSecret,
  readAllSecrets,
  type SecretSpec,
  storedSecrets,
} from './secrets.ts';

keepLogsOnFailure();

let cp: ControlPlane;
const secrets: SecretSpec[] = [];

beforeAll(async () => {
  cp = await startControlPlane({ version: '1.31', dir: createRunDir('kubekms-e2e-131-') });
  await createNamespace(cp.apiserver, 'old');
}, 300_000);

describe('kube-apiserver 1.31 with the kubekms KMS v2 provider', () => {
  it('stores Secrets encrypted under our key_id and reads them back across restarts of both', async () => {
    for (let i = 0; i < 20; i++) secrets.push(newSecret('old', `s-${i}`));
    await applySecrets(cp.apiserver, secrets);
    const stored = await storedSecrets(cp.etcd, 'old');
    expect(stored.size).toBe(20);
    for (const s of secrets) {
      const v = stored.get(s.name)!;
      expect(v.raw.subarray(0, 23).toString()).toBe('k8s:enc:kms:v2:kubekms:');
      expect(v.raw.includes(Buffer.from(s.value))).toBe(false);
      expect(v.obj.keyID).toMatch(/^kubekms:[0-9a-f-]{36}:v1$/);
    }
    const readAll = async () => {
      const values = await readAllSecrets(cp.apiserver, 'old');
      for (const s of secrets) expect(values.get(s.name)).toBe(s.value);
    };
    await readAll();
    await cp.apiserver.restart();
    await readAll();
    await cp.plugin!.restart();
    await cp.apiserver.restart();
    await readAll();
  });

  it('shows the switch-over the operator watches: key_id writes in /metrics, an identity Lease in kube-system', async () => {
    const s = newSecret('old', 'switch-probe');
    await applySecrets(cp.apiserver, [s]);
    const keyId = (await storedSecrets(cp.etcd, 'old')).get(s.name)!.obj.keyID;
    const writes = parseKeyIdWrites(await cp.apiserver.metrics());
    expect(writes.some((w) => w.keyIdHash === sha256Label(keyId))).toBe(true);
    const leases = JSON.parse(
      await cp.apiserver.kubectl([
        'get',
        'leases',
        '-n',
        IDENTITY_LEASE_NAMESPACE,
        '-l',
        IDENTITY_LEASE_SELECTOR,
        '-o',
        'json',
      ]),
    ) as { items: IdentityLeaseLike[] };
    const live = liveApiservers(leases.items, Date.now());
    expect(live).toHaveLength(1);
    expect(decideSwitchover({ live, writes }, keyId, Date.now() - 600_000)).toEqual({
      kind: 'switched',
      apiservers: 1,
    });
  });
});
