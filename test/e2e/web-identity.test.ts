/**
 * Web identity against a real kube-apiserver 1.36 + etcd (issue 19 part 2): `kubekms serve --aws-sts` reviews
 * ServiceAccount tokens made by the TokenRequest API, and the unmodified AWS SDK for JavaScript v3 — its default
 * credential chain with only AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the endpoint variables — Encrypts and
 * Decrypts as the service account a key policy names. Another service account is denied; a token for another
 * audience, of a deleted pod or of a deleted ServiceAccount is refused; expired session credentials are refused.
 * One control plane for the whole file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateKeyCommand, DecryptCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assumeRole, type StsAnswer } from '../../src/aws/testing/sts.ts';
import {
  type ControlPlane,
  createRunDir,
  defaultPluginCommand,
  freePort,
  startControlPlane,
} from '../controlplane/harness.ts';
import { errorName } from './aws-helpers.ts';
import { keepLogsOnFailure } from './lifecycle.ts';
import { waitFor } from './secrets.ts';

keepLogsOnFailure();

const REGION = 'us-east-1';
const ROLE = 'arn:aws:iam::000000000000:role/workloads';
let cp: ControlPlane;
let endpoint = '';
let admin: KMSClient;
let keyId = '';
const tokens = mkdtempSync(join(tmpdir(), 'kubekms-wi-'));
const clients: KMSClient[] = [];

const kubectl = (args: string[], input?: string) => cp.apiserver.kubectl(args, input ? { input } : undefined);

/** A token from the TokenRequest API (`kubectl create token`). */
async function token(sa: string, audience: string, bound?: { pod: string; uid: string }): Promise<string> {
  const args = ['create', 'token', sa, '-n', 'apps', '--audience', audience, '--duration', '10m'];
  if (bound)
    args.push(
      '--bound-object-kind',
      'Pod',
      '--bound-object-name',
      bound.pod,
      '--bound-object-uid',
      bound.uid,
    );
  return (await kubectl(args)).trim();
}

/**
 * A KMS client built by the SDK from the environment only, as a pod with a projected token volume has it: the
 * token is in a file, and the client has no credentials, endpoint or region in code.
 */
function clientFromEnvironment(tokenValue: string, name: string): KMSClient {
  const file = join(tokens, name);
  writeFileSync(file, tokenValue);
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  Object.assign(process.env, {
    AWS_ROLE_ARN: ROLE,
    AWS_WEB_IDENTITY_TOKEN_FILE: file,
    AWS_ENDPOINT_URL_STS: endpoint,
    AWS_ENDPOINT_URL_KMS: endpoint,
    AWS_REGION: REGION,
    AWS_CONFIG_FILE: join(tokens, 'no-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(tokens, 'no-credentials'),
  });
  const c = new KMSClient({ maxAttempts: 1 });
  clients.push(c);
  return c;
}

/**
 * kube-apiserver caches a successful token authentication for 10 s and learns of deletions through its informers,
 * so a TokenReview refuses a deleted object's token after a short while: wait for it (and say how long it took).
 */
async function refusedWithin(what: string, ask: () => Promise<StsAnswer>): Promise<StsAnswer> {
  const t0 = Date.now();
  const a = await waitFor(
    `the token of the ${what} to be refused`,
    async () => {
      const r = await ask();
      return r.status === 200 ? undefined : r;
    },
    60_000,
    500,
  );
  console.log(`web identity e2e: token of the ${what} refused after ${Date.now() - t0} ms`);
  return a;
}

/** A KMS client with the session credentials of an AssumeRoleWithWebIdentity answer. */
function sessionClient(a: StsAnswer): KMSClient {
  const { accessKeyId, secretAccessKey, sessionToken } = a.credentials!;
  const c = new KMSClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId, secretAccessKey, sessionToken },
    maxAttempts: 1,
  });
  clients.push(c);
  return c;
}

const encrypt = (c: KMSClient) =>
  c.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('from a pod') }));

beforeAll(async () => {
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  const dir = createRunDir('kubekms-wi-');
  cp = await startControlPlane({
    version: '1.36',
    dir,
    plugin: {
      command: (p) => [
        ...defaultPluginCommand(p),
        '--aws-listen',
        `127.0.0.1:${port}`,
        '--aws-sts',
        '--aws-sts-min-duration',
        '1s',
        '--kubeconfig',
        join(dir, 'kubeconfig'),
      ],
    },
  });
  await kubectl(['create', 'namespace', 'apps']);
  for (const sa of ['web', 'other', 'gone']) await kubectl(['create', 'serviceaccount', sa, '-n', 'apps']);
  admin = new KMSClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    maxAttempts: 1,
  });
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: 'kubekms:dev:test' }, Action: 'kms:*', Resource: '*' },
      {
        Effect: 'Allow',
        Principal: { AWS: ['system:serviceaccount:apps:web', 'system:serviceaccount:apps:gone'] },
        Action: ['kms:Encrypt', 'kms:Decrypt'],
        Resource: '*',
      },
    ],
  };
  keyId = (await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }))).KeyMetadata!.KeyId!;
}, 300_000);

afterAll(async () => {
  for (const c of clients) c.destroy();
  admin?.destroy();
  await cp?.stop();
  rmSync(tokens, { recursive: true, force: true });
});

describe('web identity with a real kube-apiserver (TokenReview)', () => {
  it('the SDK default chain with env vars only: the service account named in the key policy encrypts and decrypts', async () => {
    const web = clientFromEnvironment(await token('web', 'kubekms'), 'web');
    const blob = await encrypt(web);
    const back = await web.send(new DecryptCommand({ CiphertextBlob: blob.CiphertextBlob! }));
    expect(Buffer.from(back.Plaintext!).toString()).toBe('from a pod');
  });

  it('another service account is denied', async () => {
    const other = clientFromEnvironment(await token('other', 'kubekms'), 'other');
    expect(await errorName(encrypt(other))).toBe('AccessDeniedException');
  });

  it('a token for another audience is refused (InvalidIdentityToken)', async () => {
    const wrong = clientFromEnvironment(await token('web', 'https://kubernetes.default.svc'), 'wrong');
    expect(await errorName(encrypt(wrong))).toBe('InvalidIdentityTokenException');
    const raw = await assumeRole(endpoint, {
      RoleArn: ROLE,
      RoleSessionName: 'e2e',
      WebIdentityToken: await token('web', 'https://kubernetes.default.svc'),
    });
    expect([raw.status, raw.code]).toEqual([400, 'InvalidIdentityToken']);
  });

  it('a pod-bound token works while the pod exists and is refused once it is deleted', async () => {
    const pod = JSON.parse(
      await kubectl(
        ['create', '-f', '-', '-o', 'json'],
        JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'web-1', namespace: 'apps' },
          spec: { serviceAccountName: 'web', containers: [{ name: 'app', image: 'example.invalid/app' }] },
        }),
      ),
    ) as { metadata: { uid: string } };
    const bound = await token('web', 'kubekms', { pod: 'web-1', uid: pod.metadata.uid });
    const ask = () =>
      assumeRole(endpoint, { RoleArn: ROLE, RoleSessionName: 'e2e', WebIdentityToken: bound });
    expect((await ask()).status).toBe(200);
    await kubectl(['delete', 'pod', 'web-1', '-n', 'apps', '--wait=true']);
    const refused = await refusedWithin('deleted pod', ask);
    expect([refused.status, refused.code]).toEqual([400, 'InvalidIdentityToken']);
    expect(refused.body).toContain('The Kubernetes API refused the token');
  });

  it('a token of a deleted ServiceAccount is refused', async () => {
    const t = await token('gone', 'kubekms');
    const ask = () => assumeRole(endpoint, { RoleArn: ROLE, RoleSessionName: 'e2e', WebIdentityToken: t });
    expect((await ask()).status).toBe(200);
    await kubectl(['delete', 'serviceaccount', 'gone', '-n', 'apps']);
    expect((await refusedWithin('deleted ServiceAccount', ask)).code).toBe('InvalidIdentityToken');
  });

  it('session credentials survive a restart of kubekms (the token is sealed by the root key, no state)', async () => {
    const a = await assumeRole(endpoint, {
      RoleArn: ROLE,
      RoleSessionName: 'e2e',
      WebIdentityToken: await token('web', 'kubekms'),
    });
    await cp.plugin!.restart();
    const session = sessionClient(a);
    const blob = await waitFor(
      'the restarted AWS API',
      async () => encrypt(session).catch(() => undefined),
      30_000,
      250,
    );
    expect(blob.KeyId).toContain(keyId);
  });

  it('expired session credentials are refused with ExpiredTokenException', async () => {
    const a = await assumeRole(endpoint, {
      RoleArn: ROLE,
      RoleSessionName: 'e2e',
      WebIdentityToken: await token('web', 'kubekms'),
      DurationSeconds: '3',
    });
    expect(a.status).toBe(200);
    const session = sessionClient(a);
    expect(await errorName(encrypt(session))).toBe('OK');
    await waitFor(
      'the session to expire',
      async () => ((await errorName(encrypt(session))) === 'ExpiredTokenException' ? true : undefined),
      30_000,
      250,
    );
  });
});
