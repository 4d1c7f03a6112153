/**
 * Rollback detection (ADR 0022) against a real kube-apiserver 1.36 and etcd: a keystore restored from a backup
 * taken before an online rotation is older than a Secret written since. The API server cannot list Secrets (its
 * log names the key_id and says the keystore is older than the data) and does not become ready; kubekms counts the
 * Decrypts in kubekms_kmsv2_store_behind_total, logs "rollback suspected" and refuses to rotate the key again
 * (which would issue the lost version number for new material); before that, `kubekms doctor` already FAILs it from
 * the API server's metrics. Restoring the newest backup recovers everything.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRunDir } from '../controlplane/harness.ts';
import { keepLogsOnFailure, MAIN, stopsAfterAll } from './lifecycle.ts';
import { kubekmsCli as kubekms, newRootKeyFile, startRootKeyControlPlane } from './root-key-serve.ts';
import {
  applySecrets,
  createNamespace,
  newSecret,
  readAllSecrets,
  storedSecret,
  waitFor,
} from './secrets.ts';

keepLogsOnFailure();

const stops = stopsAfterAll();

describe('a keystore older than the Secrets in etcd', () => {
  it('is detected on Decrypt: named in the API server log, counted, logged, the key not rotated; the newest backup recovers', async () => {
    const dir = createRunDir('kubekms-rb-');
    const rootKeyFile = newRootKeyFile(dir);
    const cp = await startRootKeyControlPlane(dir, rootKeyFile);
    let plugin = cp.plugin!;
    stops.push(
      () => cp.stop(),
      () => plugin.stop(),
    );
    const keyFlags = ['--data-dir', plugin.dataDir, '--root-key-file', rootKeyFile];
    await createNamespace(cp.apiserver, 'rb');
    const before = Array.from({ length: 10 }, (_, i) => newSecret('rb', `before-${i}`));
    await applySecrets(cp.apiserver, before);
    const backup = join(dir, 'before-rotation.json');
    await kubekms(['backup', '--out', backup, ...keyFlags]);

    expect(await kubekms(['key', 'rotate', 'alias/kubekms/secrets', ...keyFlags])).toMatch(
      /primary version 2/,
    );
    await cp.apiserver.restart(); // its first Status reports the new key_id
    const after = newSecret('rb', 'after');
    await waitFor(
      'a Secret stored under v2',
      async () => {
        await applySecrets(cp.apiserver, [after]);
        return (await storedSecret(cp.etcd, after)).obj.keyID.endsWith(':v2') ? true : undefined;
      },
      150_000,
      5_000,
    );

    const newest = join(dir, 'after-rotation.json');
    await kubekms(['backup', '--out', newest, ...keyFlags]);

    const restoreFrom = async (file: string) => {
      await plugin.stop();
      rmSync(plugin.dataDir, { recursive: true, force: true });
      await kubekms(['restore', file, ...keyFlags]);
      plugin = await plugin.restart();
    };
    await restoreFrom(backup);
    // Before the API server restarts, doctor sees its writes under v2 in its metrics.
    const doctor = spawnSync(
      process.execPath,
      [
        MAIN,
        'doctor',
        ...keyFlags,
        '--kms-socket',
        plugin.socket,
        '--kubeconfig',
        cp.apiserver.kubeconfigPath,
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(doctor.status).toBe(1);
    expect(doctor.stdout).toMatch(
      /keystore vs data +FAIL +the API server wrote data under kubekms:[0-9a-f-]{36}:v2 .*newest version of the Secrets key is v1: the keystore is older than the data/,
    );
    // No DEK seed cached: the API server's Secret watch cache lists every Secret through the restored kubekms,
    // fails on the one under v2, and keeps the API server from becoming ready; its log says why.
    await cp.apiserver.restart({ waitReady: false });
    await waitFor(
      'the API server to log the refusal',
      async () =>
        /unable to transform key "\/registry\/secrets\/rb\/after".*this keystore's newest version of that key is v1; the keystore is older than the data/.test(
          readFileSync(cp.apiserver.logPath, 'utf8'),
        )
          ? true
          : undefined,
      120_000,
    );
    const metrics = await (await fetch(`http://${plugin.healthListen}/metrics`)).text();
    expect(Number(/^kubekms_kmsv2_store_behind_total (\d+)/m.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    const log = readFileSync(plugin.process.logPath, 'utf8');
    expect(log).toMatch(/rollback suspected: kube-apiserver asked to decrypt data under a key version/);
    expect(log).not.toContain(after.value);
    await expect(kubekms(['key', 'rotate', 'alias/kubekms/secrets', ...keyFlags])).rejects.toThrow(
      /data encrypted under version 2 of this key was seen, but this keystore's newest version is 1/,
    );

    // The remedy: the newest backup. The API server's watch cache retries and becomes ready; everything reads.
    await restoreFrom(newest);
    await cp.apiserver.waitReady(180_000);
    const got = await readAllSecrets(cp.apiserver, 'rb');
    for (const s of [...before, after]) expect(got.get(s.name)).toBe(s.value);
  }, 400_000);
});
