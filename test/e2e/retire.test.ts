/**
 * Retired versions and online rotation on one node (issue 18 parts 3 and 4) on a real kube-apiserver 1.36 + etcd
 * with `kubekms serve --operator` as its KMS v2 plugin: `kubekms key rotate` through serve's admin socket while
 * serve runs, the pass completes with 0 failures, version 1 is retired, etcd holds nothing under it, a Decrypt
 * under it is still answered and counted, spec.retiredVersions on the mirror disables it (reversibly), and with it
 * disabled every Secret still reads after an API server restart (no cached seeds), and a destruction declared on
 * the mirror refuses v1 until it is cancelled. One control plane.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiserverLikeClient } from '../../src/kmsv2/testing/apiserver-client.ts';
import type { ControlPlane, Plugin } from '../controlplane/harness.ts';
import { keepLogsOnFailure, MAIN } from './lifecycle.ts';
import { events, patchSpec, startOperatorControlPlane, waitOperatorLeader } from './operator-helpers.ts';
import {
  secretsMirror,
  storedSecretKeyIds,
  waitPassEnd,
  waitWritesUnderNewKeyId,
} from './reencrypt-helpers.ts';
import {
  applySecrets,
  newSecret,
  readAllSecrets,
  type SecretSpec,
  storedSecret,
  waitFor,
} from './secrets.ts';

keepLogsOnFailure();

const NAMESPACES = ['rt0', 'rt1'];
const PER_NAMESPACE = 50;
const SECRETS_KEY = 'alias/kubekms/secrets';

let cp: ControlPlane;
let plugin: Plugin;
let client: ApiserverLikeClient;
const secrets: SecretSpec[] = [];

const mirror = () => secretsMirror(cp.apiserver);

const cli = (args: string[]): string =>
  execFileSync(process.execPath, [MAIN, ...args, '--dev', '--data-dir', plugin.dataDir], {
    encoding: 'utf8',
  });

async function metric(name: string): Promise<string> {
  return (await (await fetch(`http://${plugin.healthListen}/metrics`)).text())
    .split('\n')
    .filter((l) => l.startsWith(name))
    .join('\n');
}

async function patchMirror(spec: unknown): Promise<void> {
  await patchSpec(cp.apiserver, 'kmskey', 'kubekms', 'secrets', spec);
}

const allStoredKeyIds = () => storedSecretKeyIds(cp.etcd);

/** Waits until `kubekms key versions` of the Secrets key matches `re`. */
async function waitVersions(what: string, re: RegExp): Promise<void> {
  await waitFor(
    what,
    async () => (re.test(cli(['key', 'versions', SECRETS_KEY])) ? true : undefined),
    60_000,
    1_000,
  );
}

async function everySecretReads(): Promise<number> {
  let bad = 0;
  for (const ns of NAMESPACES) {
    const got = await readAllSecrets(cp.apiserver, ns);
    for (const s of secrets) if (s.namespace === ns && got.get(s.name) !== s.value) bad++;
  }
  return bad;
}

beforeAll(async () => {
  cp = await startOperatorControlPlane('kubekms-retire-', [
    '--maintenance-interval',
    '1s',
    '--reencrypt-delay',
    '600s',
    '--reencrypt-qps',
    '0',
  ]);
  await cp.apiserver.kubectl(['create', 'namespace', NAMESPACES[0]!]);
  await cp.apiserver.kubectl(['create', 'namespace', NAMESPACES[1]!]);
  for (const ns of NAMESPACES)
    for (let j = 0; j < PER_NAMESPACE; j++) secrets.push(newSecret(ns, `s${String(j).padStart(3, '0')}`));
  await applySecrets(cp.apiserver, secrets);
  // The harness creates the data directory with the default umask (0755): the admin socket has its own 0700 one.
  plugin = cp.plugin!;
  await waitOperatorLeader(plugin);
  client = new ApiserverLikeClient(plugin.socket);
}, 300_000);

afterAll(() => client?.close());

describe('retiring the old version after an online rotation', () => {
  it('rotates online, retires v1 after a verified pass, counts its use, and disabling it breaks nothing', async () => {
    const before = await allStoredKeyIds();
    expect(before.size).toBe(secrets.length);
    const oldKeyId = [...new Set(before.values())];
    expect(oldKeyId).toHaveLength(1);
    expect(oldKeyId[0]).toMatch(/:v1$/);
    const old = (await storedSecret(cp.etcd, secrets[0]!)).obj;
    const oldSeed = await client.decrypt(old.encryptedDEKSource, old.keyID);

    // Online: serve keeps running (same process) and reports the new key_id.
    const pid = plugin.process.pid;
    expect(cli(['key', 'rotate', SECRETS_KEY])).toMatch(/^rotated .*: primary version 2\n$/);
    expect((await client.status()).keyId).toMatch(/:v2$/);
    expect(plugin.process.pid).toBe(pid);

    const probe = newSecret(NAMESPACES[0]!, 'probe');
    secrets.push(probe);
    const newKeyId = await waitWritesUnderNewKeyId(cp.apiserver, cp.etcd, probe, oldKeyId[0]);
    const end = await waitPassEnd<{ phase: string; keyVersion: number; failed: number }>(cp.apiserver, {
      keyVersion: 2,
      timeoutMs: 180_000,
    });
    expect(end).toMatchObject({ phase: 'Completed', failed: 0 });

    // Retired once the pass was verified; etcd holds nothing under version 1.
    const retired = await waitFor(
      'status.retiredVersions',
      async () => {
        const r = (await mirror())?.status?.retiredVersions as { version: number }[] | undefined;
        return r?.length ? r : undefined;
      },
      60_000,
      500,
    );
    expect(retired.map((r) => r.version)).toEqual([1]);
    const ev = (await events(cp.apiserver, 'kubekms')).find((e) => e.reason === 'VersionsRetired');
    expect(ev?.note).toMatch(/re-encryption to version 2 completed with 0 failures: version 1 retired/);
    const stale = [...(await allStoredKeyIds())].filter(([, id]) => id !== newKeyId);
    expect(stale).toEqual([]);
    expect(cli(['key', 'versions', SECRETS_KEY])).toMatch(/v1 +Retired[\s\S]*v2 +Primary/);

    // A Decrypt under the retired version (as an API server holding an old seed would send) is answered, and
    // counted, audited and reported as a Warning Event.
    expect(
      Buffer.from(await client.decrypt(old.encryptedDEKSource, old.keyID)).equals(Buffer.from(oldSeed)),
    ).toBe(true);
    expect(
      await metric('kubekms_retired_version_decrypts_total{key_manager="CLUSTER",result="allowed"}'),
    ).toMatch(/ 1$/);
    const used = await waitFor(
      'RetiredVersionUsed Event',
      async () => (await events(cp.apiserver, 'kubekms')).find((e) => e.reason === 'RetiredVersionUsed'),
      30_000,
      500,
    );
    expect(used).toMatchObject({ type: 'Warning' });
    expect(used.note).toMatch(/retired version 1 of key .* was allowed/);

    // A bad policy is refused by the API server, naming the field.
    await expect(patchMirror({ retiredVersions: { disableDecryptAfter: '7 days' } })).rejects.toThrow(
      /spec.retiredVersions.disableDecryptAfter/,
    );

    // Disable decrypt under retired versions (0s: at once, since unused) on the mirror: refused and counted.
    await patchMirror({ retiredVersions: { disableDecryptAfter: '0s' } });
    await waitVersions('the policy in the engine', /v1 +DecryptDisabled/);
    await expect(client.decrypt(old.encryptedDEKSource, old.keyID)).rejects.toThrow(/retired/);
    expect(
      await metric('kubekms_retired_version_decrypts_total{key_manager="CLUSTER",result="DecryptDisabled"}'),
    ).toMatch(/ 1$/);
    expect((await mirror())?.spec.retiredVersions).toEqual({ disableDecryptAfter: '0s' }); // honoured, not reverted

    // Disabling it breaks nothing: with no seed cached (API server restarted), every Secret reads.
    await cp.apiserver.restart();
    expect(await everySecretReads()).toBe(0);
    expect(
      await metric('kubekms_retired_version_decrypts_total{key_manager="CLUSTER",result="DecryptDisabled"}'),
    ).toMatch(/ 1$/);

    // Reversible: without the policy, version 1 decrypts again.
    await patchMirror({ retiredVersions: null });
    await waitVersions('the policy removed', /v1 +Retired/);
    expect(
      Buffer.from(await client.decrypt(old.encryptedDEKSource, old.keyID)).equals(Buffer.from(oldSeed)),
    ).toBe(true);

    // Destruction, declared on the mirror: v1 refuses to decrypt during the waiting period; unlisting it cancels.
    await patchMirror({ retiredVersions: { destroy: [{ version: 1 }], destroyWindowDays: 7 } });
    await waitVersions('v1 pending destruction', /v1 +PendingDestruction/);
    await expect(client.decrypt(old.encryptedDEKSource, old.keyID)).rejects.toThrow(/pending destruction/);
    const scheduled = (await events(cp.apiserver, 'kubekms')).find(
      (e) => e.reason === 'VersionDestructionScheduled',
    );
    expect(scheduled?.note).toMatch(/version 1 of key .* will be destroyed at .* \(window 7 days\)/);
    await patchMirror({ retiredVersions: null });
    await waitVersions('v1 retired again', /v1 +Retired/);
    expect(
      Buffer.from(await client.decrypt(old.encryptedDEKSource, old.keyID)).equals(Buffer.from(oldSeed)),
    ).toBe(true);
    console.log(
      `retire e2e: ${secrets.length} Secrets, pass ${end.phase} with ${end.failed} failures; v1 retired, its use counted, disabled, every Secret read after an API server restart`,
    );
  });

  it('rotates online through the mirror: a new spec.rotateNow token rotates once, and v2 is retired after its pass', async () => {
    const before = ((await mirror())?.status?.currentVersion as number | undefined) ?? 0;
    expect(before).toBe(2);
    await patchMirror({ rotateNow: 'r3' });
    const m = await waitFor(
      'the mirror at version 3',
      async () => {
        const o = await mirror();
        return o?.status?.currentVersion === 3 && o.status.rotateNow === 'r3' ? o : undefined;
      },
      60_000,
      500,
    );
    expect(m.spec.rotateNow).toBe('r3'); // honoured, not reverted
    expect((await client.status()).keyId).toMatch(/:v3$/);
    const rotated = (await events(cp.apiserver, 'kubekms')).find(
      (e) => e.reason === 'KeyRotated' && /spec.rotateNow=r3/.test(e.note),
    );
    expect(rotated?.note).toMatch(/rotated online \(spec.rotateNow=r3\): version 3 now encrypts/);
    const probe = secrets.find((s) => s.name === 'probe')!;
    await waitFor(
      'the API server writing under v3',
      async () => {
        await cp.apiserver.request('/readyz/kms-providers');
        await applySecrets(cp.apiserver, [probe]);
        return /:v3$/.test((await storedSecret(cp.etcd, probe)).obj.keyID) ? true : undefined;
      },
      180_000,
      2_000,
    );
    const retired = await waitFor(
      'v2 retired',
      async () => {
        const r = (await mirror())?.status?.retiredVersions as { version: number }[] | undefined;
        return r?.some((x) => x.version === 2) ? r : undefined;
      },
      180_000,
      500,
    );
    expect(retired.map((r) => r.version)).toEqual([1, 2]);
    expect([...new Set((await allStoredKeyIds()).values())].every((id) => id.endsWith(':v3'))).toBe(true);
    await patchMirror({ rotateNow: 'r3' }); // the same token again: no rotation
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await mirror())?.status?.currentVersion).toBe(3);
  });
});
