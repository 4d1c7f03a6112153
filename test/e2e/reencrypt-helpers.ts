/**
 * Helpers for the re-encryption suites (reencrypt, reencrypt-svm-137, retire): the Secrets key's mirror and its re-encryption progress, an offline rotation, the API server's switch to the new
 * key_id, the key_id of every Secret in etcd, and readers that check every Secret while a pass runs.
 */
import { execFileSync } from 'node:child_process';
import { type Apiserver, decodeEncryptedObject, type Etcd, type Plugin } from '../controlplane/harness.ts';
import { MAIN } from './lifecycle.ts';
import { get, type Obj } from './operator-helpers.ts';
import { applySecrets, readAllSecrets, type SecretSpec, storedSecret, waitFor } from './secrets.ts';

/** The KmsKey kubekms/secrets: the read-only mirror of the cluster-managed Secrets key. */
export const secretsMirror = (api: Apiserver): Promise<Obj | undefined> =>
  get(api, 'kmskey', 'kubekms', 'secrets');

/** The mirror's status.reencryption, as the suite's own view `P` of it. */
export const reencryptionOf = <P>(o: Obj | undefined): P | undefined =>
  o?.status?.reencryption as P | undefined;

/** Waits until the pass (for `keyVersion`, if given) has Completed or Failed; `observe` sees every poll. */
export function waitPassEnd<P extends { phase: string; keyVersion: number }>(
  api: Apiserver,
  o: { keyVersion?: number; timeoutMs: number; observe?: (p: P | undefined) => void },
): Promise<P> {
  return waitFor(
    'reencryption finished',
    async () => {
      const p = reencryptionOf<P>(await secretsMirror(api));
      o.observe?.(p);
      if (o.keyVersion !== undefined && p?.keyVersion !== o.keyVersion) return undefined;
      return p?.phase === 'Completed' || p?.phase === 'Failed' ? p : undefined;
    },
    o.timeoutMs,
    500,
  );
}

/** Every Secret in etcd: its etcd key → the key_id it is stored under. */
export async function storedSecretKeyIds(etcd: Etcd): Promise<Map<string, string>> {
  const kvs = await etcd.getPrefix('/registry/secrets/');
  return new Map([...kvs].map(([k, raw]) => [k, decodeEncryptedObject(raw).keyID]));
}

/**
 * Stops the plugin, rotates the Secrets key with the CLI on its data dir, and starts it again (the new version
 * is primary); returns the restarted plugin, when the rotation began, and the CLI's output.
 */
export async function rotateSecretsKeyOffline(
  plugin: Plugin,
): Promise<{ plugin: Plugin; rotatedAt: number; out: string }> {
  await plugin.stop();
  const rotatedAt = Date.now();
  const out = execFileSync(
    process.execPath,
    [MAIN, 'key', 'rotate', 'alias/kubekms/secrets', '--dev', '--data-dir', plugin.dataDir],
    { encoding: 'utf8' },
  );
  return { plugin: await plugin.restart(), rotatedAt, out };
}

/**
 * Writes `probe` until etcd stores it under a key_id other than `oldKeyId` (the API server switches when its health
 * check calls Status, once its cached result is older than 20 s) and returns that key_id.
 */
export function waitWritesUnderNewKeyId(
  api: Apiserver,
  etcd: Etcd,
  probe: SecretSpec,
  oldKeyId: string | undefined,
): Promise<string> {
  return waitFor(
    'the API server writing under the new key_id',
    async () => {
      await api.request('/readyz/kms-providers');
      await applySecrets(api, [probe]);
      const id = (await storedSecret(etcd, probe)).obj.keyID;
      return id !== oldKeyId ? id : undefined;
    },
    180_000,
    2_000,
  );
}

/**
 * Reads every namespace in turn, in a loop, until `stop()`: a read that fails, or a Secret of `secrets` (unless its
 * `namespace/name` is in `gone`) whose value differs, counts as a failure.
 */
export function readContinuously(
  api: Apiserver,
  namespaces: readonly string[],
  secrets: readonly SecretSpec[],
  gone: ReadonlySet<string> = new Set(),
): { stop: () => Promise<{ reads: number; failures: number }> } {
  let reads = 0;
  let failures = 0;
  let reading = true;
  const reader = (async () => {
    for (let i = 0; reading; i = (i + 1) % namespaces.length) {
      const ns = namespaces[i]!;
      try {
        const got = await readAllSecrets(api, ns);
        for (const s of secrets)
          if (s.namespace === ns && !gone.has(`${s.namespace}/${s.name}`) && got.get(s.name) !== s.value)
            failures++;
        reads++;
      } catch {
        failures++;
      }
    }
  })();
  return {
    stop: async () => {
      reading = false;
      await reader;
      return { reads, failures };
    },
  };
}
