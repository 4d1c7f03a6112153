/** Helpers shared by the end-to-end suites: Secrets through kubectl, and their raw form in etcd. */
import { randomBytes } from 'node:crypto';
import {
  type Apiserver,
  decodeEncryptedObject,
  type EncryptedObject,
  type Etcd,
  etcdKey,
} from '../controlplane/harness.ts';

export interface SecretSpec {
  readonly namespace: string;
  readonly name: string;
  /** The plaintext value of data.value; random and unique, so it can be searched for. */
  readonly value: string;
}

export function newSecret(namespace: string, name: string): SecretSpec {
  return { namespace, name, value: `plaintext-${randomBytes(12).toString('hex')}` };
}

function manifest(s: SecretSpec) {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: s.name, namespace: s.namespace },
    data: { value: Buffer.from(s.value).toString('base64') },
  };
}

/** Creates (or replaces) Secrets in one kubectl call. */
export async function applySecrets(api: Apiserver, secrets: readonly SecretSpec[]): Promise<void> {
  const list = { apiVersion: 'v1', kind: 'List', items: secrets.map(manifest) };
  await api.kubectl(['apply', '--server-side', '--force-conflicts', '-f', '-'], {
    input: JSON.stringify(list),
  });
}

export async function createNamespace(api: Apiserver, name: string): Promise<void> {
  await api.kubectl(['create', 'namespace', name]);
}

/** Creates (or updates) namespaces in one kubectl call. */
export async function createNamespaces(api: Apiserver, names: readonly string[]): Promise<void> {
  const list = {
    apiVersion: 'v1',
    kind: 'List',
    items: names.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } })),
  };
  await api.kubectl(['apply', '-f', '-'], { input: JSON.stringify(list) });
}

/** Reads a Secret through the API and returns its decoded value. */
export async function readSecret(api: Apiserver, s: Pick<SecretSpec, 'namespace' | 'name'>): Promise<string> {
  const out = await api.kubectl(['get', 'secret', '-n', s.namespace, s.name, '-o', 'jsonpath={.data.value}']);
  return Buffer.from(out, 'base64').toString('utf8');
}

/** Reads every Secret of a namespace in one call: name → value. */
export async function readAllSecrets(api: Apiserver, namespace: string): Promise<Map<string, string>> {
  const out = JSON.parse(await api.kubectl(['get', 'secrets', '-n', namespace, '-o', 'json'])) as {
    items: { metadata: { name: string }; data?: { value?: string } }[];
  };
  return new Map(
    out.items.map((i) => [i.metadata.name, Buffer.from(i.data?.value ?? '', 'base64').toString('utf8')]),
  );
}

export async function storedSecret(
  etcd: Etcd,
  s: Pick<SecretSpec, 'namespace' | 'name'>,
): Promise<{ raw: Buffer; obj: EncryptedObject }> {
  const raw = await etcd.get(etcdKey('secrets', s.namespace, s.name));
  if (!raw) throw new Error(`etcd has no ${s.namespace}/${s.name}`);
  return { raw, obj: decodeEncryptedObject(raw) };
}

/** Every stored Secret of a namespace, decoded. */
export async function storedSecrets(
  etcd: Etcd,
  namespace: string,
): Promise<Map<string, { raw: Buffer; obj: EncryptedObject }>> {
  const kvs = await etcd.getPrefix(`/registry/secrets/${namespace}/`);
  const out = new Map<string, { raw: Buffer; obj: EncryptedObject }>();
  for (const [k, raw] of kvs)
    out.set(k.slice(k.lastIndexOf('/') + 1), { raw, obj: decodeEncryptedObject(raw) });
  return out;
}

export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs = 1000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** The key_id kubekms reports, read from its Status through the apiserver's own metric is indirect; read from a fresh write instead. */
export async function keyIdOfNewWrite(api: Apiserver, etcd: Etcd, namespace: string): Promise<string> {
  const s = newSecret(namespace, `probe-${randomBytes(4).toString('hex')}`);
  await applySecrets(api, [s]);
  return (await storedSecret(etcd, s)).obj.keyID;
}
