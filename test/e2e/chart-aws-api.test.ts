/**
 * The AWS API as the chart deploys it (issue 19 item 1), against a real kube-apiserver 1.36: `helm install` with
 * aws.enabled, then the operator pod the API server stores, run locally by test/packaging/pod-runner.ts with its
 * ServiceAccount's token — so the chart's args, Secrets, init container and RBAC are what is tested. The AWS SDK
 * talks HTTPS to it, trusting only the CA of the certificate in the TLS Secret; management goes through KmsKey/KmsAlias objects.
 * With aws.webIdentity, ServiceAccount tokens are reviewed with the chart's RBAC (create on tokenreviews).
 */

import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { join } from 'node:path';
import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DeleteAliasCommand,
  EncryptCommand,
  KMSClient,
  ScheduleKeyDeletionCommand,
} from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlane,
  createRunDir,
  freePort,
  type ManagedProcess,
  spawnManaged,
  startControlPlane,
} from '../controlplane/harness.ts';
import { must } from '../packaging/exec.ts';
import { CHART, helmBinary } from '../packaging/helm.ts';
import { type LocalPod, localPod } from '../packaging/pod-runner.ts';
import { errorName } from './aws-helpers.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import { createNamespace, waitFor } from './secrets.ts';

keepLogsOnFailure();

const NS = 'kubekms';
let cp: ControlPlane;
let dir: string;
let pod: LocalPod;
let operator: ManagedProcess;
let kms: KMSClient;
let ports: { metrics: number; aws: number };
/** What `helm install` printed (NOTES.txt). */
let notes: string;

const kubectl = (args: readonly string[], input?: string) =>
  cp.apiserver.kubectl(args, input === undefined ? {} : { input });

/** A kubeconfig for the chart's ServiceAccount (what the pod's projected token would give it). */
async function serviceAccountKubeconfig(): Promise<string> {
  const token = (await kubectl(['create', 'token', 'kubekms', '-n', NS, '--duration', '2h'])).trim();
  const path = join(dir, 'sa.kubeconfig');
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'c', cluster: { server: cp.apiserver.url, 'certificate-authority': cp.pki.caCert } },
      ],
      users: [{ name: 'sa', user: { token } }],
      contexts: [{ name: 'sa', context: { cluster: 'c', user: 'sa', namespace: NS } }],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  return path;
}

beforeAll(async () => {
  const helm = await helmBinary();
  dir = createRunDir('kubekms-chaws-');
  cp = await startControlPlane({ version: '1.36', dir, plugin: false });
  for (const ns of [NS, 'shop']) await createNamespace(cp.apiserver, ns);
  for (const sa of ['web', 'other']) await kubectl(['create', 'serviceaccount', sa, '-n', 'shop']);
  ports = { metrics: await freePort(), aws: await freePort() };
  // A certificate from the test CA for 127.0.0.1 (the API server's own serves): the client trusts that CA only.
  const tls = { cert: cp.pki.serverCert, key: cp.pki.serverKey };
  const creds = join(dir, 'credentials.json');
  const admin = {
    accessKeyId: 'AKIACHART',
    secretAccessKey: 'chart-secret',
    principal: 'chart-admin',
    admin: true,
  };
  writeFileSync(creds, JSON.stringify({ credentials: [admin] }));
  const rootKey = join(dir, 'root.key');
  writeFileSync(rootKey, Buffer.alloc(32, 7));
  await kubectl([
    'create',
    'secret',
    'generic',
    'kubekms-root-key',
    '-n',
    NS,
    `--from-file=root.key=${rootKey}`,
  ]);
  await kubectl(['create', 'secret', 'tls', 'kms-tls', '-n', NS, `--cert=${tls.cert}`, `--key=${tls.key}`]);
  await kubectl([
    'create',
    'secret',
    'generic',
    'kms-creds',
    '-n',
    NS,
    `--from-file=credentials.json=${creds}`,
  ]);
  notes = await must(helm, [
    '--kubeconfig',
    cp.kubeconfigPath,
    'install',
    'kubekms',
    CHART,
    '-n',
    NS,
    '--set',
    'operator.replicas=1',
    '--set',
    `metrics.port=${ports.metrics}`,
    '--set',
    'aws.enabled=true',
    '--set',
    `aws.port=${ports.aws}`,
    '--set',
    'aws.credentials.existingSecret=kms-creds',
    '--set',
    'aws.tls.existingSecret=kms-tls',
    '--set',
    'aws.webIdentity.enabled=true',
    '--set',
    'aws.webIdentity.roleName=shop-apps',
    '--set-json',
    'aws.networkPolicy.allowedClients=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"shop"}}}]',
  ]);
  pod = await localPod(cp.apiserver, NS, 'kubekms-operator');
  for (const c of pod.spec.initContainers ?? []) {
    const [file, ...args] = pod.argv(c);
    await must(file!, args);
  }
  const [file, ...args] = pod.argv(pod.spec.containers[0]!);
  operator = spawnManaged(dir, 'kubekms-operator', file!, [
    ...args,
    `--kubeconfig=${await serviceAccountKubeconfig()}`,
  ]);
  await waitFor(
    'the operator pod to be ready',
    async () => {
      const r = await fetch(`http://127.0.0.1:${ports.metrics}/readyz`).catch(() => undefined);
      return r?.status === 200 ? true : undefined;
    },
    90_000,
    250,
  ).catch((e: unknown) => {
    throw new Error(`${String(e)}\n${readFileSync(operator.logPath, 'utf8').slice(-3000)}`);
  });
  kms = new KMSClient({
    endpoint: `https://127.0.0.1:${ports.aws}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIACHART', secretAccessKey: 'chart-secret' },
    maxAttempts: 1,
    requestHandler: { httpsAgent: new Agent({ ca: readFileSync(cp.pki.caCert) }) },
  });
}, 600_000);

afterAll(async () => {
  for (const c of sessionClients) c.destroy();
  kms?.destroy();
  await operator?.stop();
  await cp?.stop();
  if (pod) rmSync(pod.root, { recursive: true, force: true });
});

const sessionClients: KMSClient[] = [];

/**
 * A KMS client as a pod of shop/<sa> with a projected token for `audience` builds it: the SDK's default chain from
 * environment variables only (the CA aside, which a pod would get from NODE_EXTRA_CA_CERTS).
 */
async function workloadClient(sa: string, audience: string): Promise<KMSClient> {
  const token = (await kubectl(['create', 'token', sa, '-n', 'shop', '--audience', audience])).trim();
  const file = join(dir, `token-${sa}-${sessionClients.length}`);
  writeFileSync(file, token);
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  const role = notes.match(/AWS_ROLE_ARN=(\S+)/)?.[1] ?? '';
  Object.assign(process.env, {
    AWS_ROLE_ARN: role,
    AWS_WEB_IDENTITY_TOKEN_FILE: file,
    AWS_ENDPOINT_URL_STS: `https://127.0.0.1:${ports.aws}`,
    AWS_ENDPOINT_URL_KMS: `https://127.0.0.1:${ports.aws}`,
    AWS_REGION: 'us-east-1',
    AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
  });
  const c = new KMSClient({
    maxAttempts: 1,
    requestHandler: { httpsAgent: new Agent({ ca: readFileSync(cp.pki.caCert) }) },
  });
  sessionClients.push(c);
  return c;
}

describe('web identity from the chart (aws.webIdentity)', () => {
  it('prints the role ARN for AWS_ROLE_ARN in the install notes', () => {
    expect(notes).toContain('AWS_ROLE_ARN=arn:aws:iam::000000000000:role/shop-apps');
  });

  it('a ServiceAccount named in a KmsKey policy encrypts with only env vars and its token; another is denied; another audience is refused', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'chart-admin' }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Allow',
          Principal: { AWS: ['system:serviceaccount:shop:web'] },
          Action: ['kms:Encrypt', 'kms:Decrypt'],
          Resource: '*',
        },
      ],
    };
    const keyId = (await kms.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }))).KeyMetadata!
      .KeyId!;
    // The operator reconciled the policy into the KmsKey's subjects: the service account by name.
    const obj = JSON.parse(await kubectl(['get', 'kmskeys', '-n', NS, '-o', 'json'])) as {
      items: { status?: { keyId?: string }; spec: { policy?: unknown } }[];
    };
    expect(JSON.stringify(obj.items.find((o) => o.status?.keyId === keyId)?.spec.policy)).toContain(
      '"serviceAccount":{"name":"web","namespace":"shop"}',
    );
    const web = await workloadClient('web', 'kubekms');
    const enc = await web.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('as shop/web') }));
    const dec = await web.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext ?? []).toString()).toBe('as shop/web');
    const other = await workloadClient('other', 'kubekms');
    expect(
      await errorName(other.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))),
    ).toBe('AccessDeniedException');
    const wrong = await workloadClient('web', 'https://kubernetes.default.svc');
    expect(
      await errorName(wrong.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))),
    ).toBe('InvalidIdentityTokenException');
  });

  it('a KmsKey policy naming the namespace group system:serviceaccounts:shop covers every ServiceAccount of shop', async () => {
    const policy = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { AWS: 'chart-admin' }, Action: 'kms:*', Resource: '*' },
        {
          Effect: 'Allow',
          Principal: { AWS: 'group:system:serviceaccounts:shop' },
          Action: ['kms:Encrypt'],
          Resource: '*',
        },
      ],
    };
    const keyId = (await kms.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }))).KeyMetadata!
      .KeyId!;
    const other = await workloadClient('other', 'kubekms');
    expect(
      await errorName(other.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('x') }))),
    ).toBe('OK');
  });
});

describe('the AWS API from the chart', () => {
  it('gets its credentials file as a 0600 copy (the Secret volume itself is group-readable)', () => {
    const copy = join(pod.root, 'root-key', 'aws-credentials.json');
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    expect(statSync(join(pod.root, 'aws-credentials-secret', 'credentials.json')).mode & 0o777).toBe(0o440);
  });

  it('tells the user the endpoint and the region in the install notes', () => {
    expect(notes).toContain('AWS_ENDPOINT_URL_KMS=https://kubekms-aws.kubekms.svc AWS_REGION=us-east-1');
  });

  it('refuses plain HTTP: the listener speaks TLS only', async () => {
    const r = await fetch(`http://127.0.0.1:${ports.aws}/`, { method: 'POST' }).catch((e: unknown) => e);
    expect(r).toBeInstanceOf(Error);
  });

  it('creates a key as a KmsKey in the release namespace and encrypts and decrypts with it over HTTPS', async () => {
    const key = await kms.send(new CreateKeyCommand({ Description: 'from the chart' }));
    const keyId = key.KeyMetadata?.KeyId;
    expect(keyId).toMatch(/^[0-9a-f-]{36}$/);
    const objects = JSON.parse(await kubectl(['get', 'kmskeys', '-n', NS, '-o', 'json'])) as {
      items: { metadata: { name: string }; status?: { keyId?: string } }[];
    };
    expect(objects.items.map((o) => o.status?.keyId)).toContain(keyId);
    const enc = await kms.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('chart secret') }));
    const dec = await kms.send(new DecryptCommand({ CiphertextBlob: enc.CiphertextBlob }));
    expect(Buffer.from(dec.Plaintext ?? []).toString()).toBe('chart secret');
  });

  it('creates and deletes aliases and schedules key deletion through objects (the chart grants create and delete)', async () => {
    const key = await kms.send(new CreateKeyCommand({}));
    const keyId = key.KeyMetadata!.KeyId!;
    await kms.send(new CreateAliasCommand({ AliasName: 'alias/chart', TargetKeyId: keyId }));
    expect(
      await kubectl(['get', 'kmsaliases', '-n', NS, '-o', 'jsonpath={.items[*].spec.aliasName}']),
    ).toContain('alias/chart');
    await kms.send(new DeleteAliasCommand({ AliasName: 'alias/chart' }));
    await waitFor(
      'the KmsAlias to be gone',
      async () =>
        (await kubectl(['get', 'kmsaliases', '-n', NS, '-o', 'name'])).trim() === '' ? true : undefined,
      30_000,
      250,
    );
    const del = await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
    expect(del.KeyState).toBe('PendingDeletion');
  });
});
