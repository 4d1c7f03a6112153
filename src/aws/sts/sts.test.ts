import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateGrantCommand,
  CreateKeyCommand,
  DecryptCommand,
  EncryptCommand,
  KMSClient,
} from '@aws-sdk/client-kms';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeCrypto } from '../../crypto/node-provider.ts';
import { TestRootKey } from '../../engine/testing.ts';
import type { TokenReviewer, TokenReviewResult } from '../../kube/token-review.ts';
import { ARN, errorName, type Harness, startHarness } from '../testing/harness.ts';
import { assumeRole, fakeJwt, type StsAnswer } from '../testing/sts.ts';

const ROLE = `arn:aws:iam::${ARN.account}:role/workloads`;
const WEB = 'system:serviceaccount:apps:web';
const OTHER = 'system:serviceaccount:apps:other';

/** A fake API server: a token `sa:<principal>` authenticates as that principal for the audiences it names. */
class FakeReviews {
  calls = 0;
  answer: ((token: string, audiences: readonly string[]) => Partial<TokenReviewResult>) | undefined;
  readonly review: TokenReviewer = async (token, audiences) => {
    this.calls++;
    const sub = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { sub: string })
      .sub;
    const base = {
      authenticated: true,
      username: sub,
      uid: 'u',
      groups: [],
      audiences: [...audiences],
      error: '',
    };
    return { ...base, ...(this.answer?.(token, audiences) ?? {}) };
  };
}

/** The server's clock: real time plus an offset a test may move (so that the SDK's own clock agrees). */
let offset = 0;
const now = () => Date.now() + offset;
const open: Harness[] = [];
const clients: KMSClient[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  for (const h of open.splice(0)) await h.close();
  offset = 0;
});

/** The answer's Expiration is `seconds` after the call (which took place between `before` and now). */
function expectExpiry(a: StsAnswer, before: number, seconds: number): void {
  const at = Date.parse(a.credentials!.expiration);
  expect(at).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + seconds * 1000);
  expect(at).toBeLessThanOrEqual(now() + seconds * 1000);
}

async function start(
  o: { minDurationSeconds?: number; rootKey?: TestRootKey; replayBudgetPerKey?: number } = {},
) {
  const reviews = new FakeReviews();
  const h = await startHarness({
    now,
    ...(o.rootKey ? { rootKey: o.rootKey } : {}),
    ...(o.replayBudgetPerKey ? { replayBudgetPerKey: o.replayBudgetPerKey } : {}),
    webIdentity: {
      audience: 'kubekms',
      minDurationSeconds: o.minDurationSeconds ?? 900,
      review: reviews.review,
    },
  });
  open.push(h);
  return { h, reviews };
}

const token = (sub: string, o: { aud?: string; exp?: number } = {}) =>
  fakeJwt({
    sub,
    aud: o.aud ?? 'kubekms',
    exp: o.exp ?? Math.floor(now() / 1000) + 3600,
    iss: 'https://k8s',
  });

async function assume(h: Harness, sub: string, extra: Record<string, string> = {}): Promise<StsAnswer> {
  return assumeRole(h.server.endpoint, {
    RoleArn: ROLE,
    RoleSessionName: 'test',
    WebIdentityToken: token(sub),
    ...extra,
  });
}

function sessionClient(h: Harness, a: StsAnswer): KMSClient {
  const c = a.credentials!;
  const client = new KMSClient({
    endpoint: h.server.endpoint,
    region: ARN.region,
    credentials: {
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      sessionToken: c.sessionToken,
    },
    maxAttempts: 1,
  });
  clients.push(client);
  return client;
}

async function keyFor(h: Harness, principals: string[]): Promise<string> {
  const policy = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: CREDENTIALS_ADMIN }, Action: 'kms:*', Resource: '*' },
      {
        Effect: 'Allow',
        Principal: { AWS: principals },
        Action: ['kms:Encrypt', 'kms:Decrypt'],
        Resource: '*',
      },
    ],
  };
  const admin = h.client('admin');
  const k = await admin.send(new CreateKeyCommand({ Policy: JSON.stringify(policy) }));
  return k.KeyMetadata!.KeyId!;
}
const CREDENTIALS_ADMIN = 'system:serviceaccount:kms:admin';

describe('AssumeRoleWithWebIdentity', () => {
  it('issues ASIA credentials for the service account, expiring in one hour by default, and says who in STS XML', async () => {
    const { h, reviews } = await start();
    const before = now();
    const a = await assume(h, WEB);
    expect(a.status).toBe(200);
    expect(a.credentials!.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(a.credentials!.secretAccessKey).toHaveLength(40);
    expect(a.credentials!.expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expectExpiry(a, before, 3600);
    expect(a.body).toContain(`<SubjectFromWebIdentityToken>${WEB}</SubjectFromWebIdentityToken>`);
    expect(a.body).toContain(`<Arn>arn:aws:sts::${ARN.account}:assumed-role/workloads/test</Arn>`);
    expect(a.body).toContain('<Audience>kubekms</Audience>');
    expect(a.body).toMatch(
      /^<AssumeRoleWithWebIdentityResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/">/,
    );
    expect(reviews.calls).toBe(1);
    // Nothing secret in clear in the session token: neither the secret nor the principal.
    const raw = Buffer.from(a.credentials!.sessionToken.slice(4), 'base64url').toString('latin1');
    expect(raw).not.toContain(a.credentials!.secretAccessKey);
    expect(raw).not.toContain('apps');
    // The audit line names the principal, never the token or the secret.
    expect(h.logs()).toContain('"operation":"AssumeRoleWithWebIdentity"');
    expect(h.logs()).toContain(WEB);
    expect(h.logs()).not.toContain(a.credentials!.secretAccessKey);
    expect(h.logs()).not.toContain(a.credentials!.sessionToken);
  });

  it('honours DurationSeconds within [minimum, 1 h] and never outlives the token', async () => {
    const { h } = await start({ minDurationSeconds: 60 });
    const before = now();
    const short = await assume(h, WEB, { DurationSeconds: '120' });
    expectExpiry(short, before, 120);
    for (const d of ['59', '3601', '1e3', '-5', 'x']) {
      const bad = await assume(h, WEB, { DurationSeconds: d });
      expect(`${d} ${bad.status} ${bad.code}`).toBe(`${d} 400 ValidationError`);
      expect(bad.body).toContain('DurationSeconds');
    }
    const exp = Math.floor(now() / 1000) + 300;
    const capped = await assumeRole(h.server.endpoint, {
      RoleArn: ROLE,
      RoleSessionName: 'test',
      WebIdentityToken: token(WEB, { exp }),
    });
    expect(capped.credentials!.expiration).toBe(new Date(exp * 1000).toISOString().replace('.000Z', 'Z'));
  });

  it('refuses a token for another audience and an expired token without asking the API server', async () => {
    const { h, reviews } = await start();
    const wrong = await assumeRole(h.server.endpoint, {
      RoleArn: ROLE,
      RoleSessionName: 'test',
      WebIdentityToken: token(WEB, { aud: 'https://kubernetes.default.svc' }),
    });
    expect([wrong.status, wrong.code]).toEqual([400, 'InvalidIdentityToken']);
    expect(wrong.body).toContain('audience');
    const expired = await assumeRole(h.server.endpoint, {
      RoleArn: ROLE,
      RoleSessionName: 'test',
      WebIdentityToken: token(WEB, { exp: Math.floor(now() / 1000) - 1 }),
    });
    expect([expired.status, expired.code]).toEqual([400, 'ExpiredTokenException']);
    const junk = await assumeRole(h.server.endpoint, {
      RoleArn: ROLE,
      RoleSessionName: 'test',
      WebIdentityToken: 'abcd',
    });
    expect(junk.code).toBe('InvalidIdentityToken');
    expect(reviews.calls).toBe(0);
  });

  it('follows the TokenReview: refused (a deleted pod), not for our audience, not a service account, API down', async () => {
    const { h, reviews } = await start();
    reviews.answer = () => ({ authenticated: false, error: 'pod "web-1" not found' });
    const refused = await assume(h, WEB);
    expect([refused.status, refused.code]).toEqual([400, 'InvalidIdentityToken']);
    expect(refused.body).toContain('pod &#34;web-1&#34; not found');
    reviews.answer = () => ({ audiences: [] });
    expect((await assume(h, WEB)).code).toBe('InvalidIdentityToken');
    reviews.answer = () => ({ username: 'oidc:alice' });
    const user = await assume(h, WEB);
    expect([user.status, user.code]).toEqual([403, 'IDPRejectedClaim']);
    reviews.answer = () => {
      throw new Error('connect ECONNREFUSED');
    };
    expect((await assume(h, WEB)).code).toBe('IDPCommunicationError');
    expect(reviews.calls).toBe(4);
  });

  it('holds at most 32 TokenReviews in flight; more callers get Throttling', async () => {
    const reviews = new FakeReviews();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let entered = 0;
    const blocked: TokenReviewer = async (t, a) => {
      entered++;
      await gate;
      return reviews.review(t, a);
    };
    const h = await startHarness({
      now,
      webIdentity: { audience: 'kubekms', minDurationSeconds: 900, review: blocked },
    });
    open.push(h);
    const first = Array.from({ length: 32 }, () => assume(h, WEB));
    await expect.poll(() => entered, { timeout: 20_000 }).toBe(32);
    const extra = await assume(h, WEB);
    expect([extra.status, extra.code]).toEqual([400, 'Throttling']);
    release();
    const answers = await Promise.all(first);
    expect(answers.map((a) => a.status)).toEqual(Array(32).fill(200));
    expect(entered).toBe(32);
  });

  it('answers protocol faults in STS XML: a wrong path, a body over 64 KiB, a parameter given twice', async () => {
    const { h } = await start();
    const post = (path: string, body: string) =>
      fetch(`${h.server.endpoint}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
      }).then(async (r) => [r.status, /<Code>(\w+)<\/Code>/.exec(await r.text())?.[1]] as const);
    expect(await post('/other', 'Action=AssumeRoleWithWebIdentity')).toEqual([
      400,
      'UnknownOperationException',
    ]);
    expect(await post('/', `Action=AssumeRoleWithWebIdentity&X=${'a'.repeat(70_000)}`)).toEqual([
      413,
      'RequestEntityTooLargeException',
    ]);
    expect(await post('/', 'Action=AssumeRoleWithWebIdentity&RoleArn=a&RoleArn=b')).toEqual([
      400,
      'ValidationError',
    ]);
  });

  it('checks its parameters: required members, the role ARN of this installation, no session policies', async () => {
    const { h } = await start();
    const cases: [Record<string, string>, number, string, string][] = [
      [{ RoleArn: '' }, 400, 'ValidationError', 'RoleArn: required'],
      [{ RoleArn: 'arn:aws:iam::999999999999:role/x' }, 403, 'AccessDenied', 'RoleArn'],
      [{ RoleArn: 'role/x' }, 400, 'ValidationError', 'RoleArn'],
      [{ RoleSessionName: 'a b' }, 400, 'ValidationError', 'RoleSessionName'],
      [{ Policy: '{}' }, 400, 'ValidationError', 'Policy: not supported'],
      [{ 'PolicyArns.member.1.arn': 'arn:aws:iam::aws:policy/x' }, 400, 'ValidationError', 'PolicyArns'],
      [{ Version: '2010-01-01' }, 400, 'ValidationError', 'Version'],
      [{ Action: 'AssumeRole' }, 400, 'InvalidAction', 'AssumeRoleWithWebIdentity only'],
    ];
    for (const [extra, status, code, text] of cases) {
      const a = await assume(h, WEB, extra);
      expect(`${JSON.stringify(extra)} ${a.status} ${a.code}`).toBe(
        `${JSON.stringify(extra)} ${status} ${code}`,
      );
      expect(a.body).toContain(text);
    }
  });
});

describe('temporary credentials', () => {
  it('act as the service account: allowed by a policy naming it or its namespace group, denied to another', async () => {
    const { h } = await start();
    const byName = await keyFor(h, [WEB]);
    const byGroup = await keyFor(h, ['group:system:serviceaccounts:apps']);
    const web = sessionClient(h, await assume(h, WEB));
    const other = sessionClient(h, await assume(h, OTHER));
    const blob = await web.send(new EncryptCommand({ KeyId: byName, Plaintext: Buffer.from('hi') }));
    const back = await web.send(new DecryptCommand({ CiphertextBlob: blob.CiphertextBlob! }));
    expect(Buffer.from(back.Plaintext!).toString()).toBe('hi');
    expect(
      await errorName(other.send(new EncryptCommand({ KeyId: byName, Plaintext: Buffer.from('x') }))),
    ).toBe('AccessDeniedException');
    expect(
      await errorName(other.send(new EncryptCommand({ KeyId: byGroup, Plaintext: Buffer.from('x') }))),
    ).toBe('OK');
    const stranger = sessionClient(h, await assume(h, 'system:serviceaccount:shop:web'));
    expect(
      await errorName(stranger.send(new EncryptCommand({ KeyId: byGroup, Plaintext: Buffer.from('x') }))),
    ).toBe('AccessDeniedException');
    expect(h.logs()).toContain(`"principal":"${WEB}"`);
  });

  it('a grant to a service account or to its namespace group covers its sessions', async () => {
    const { h } = await start();
    const key = await keyFor(h, ['system:serviceaccount:kms:nobody']);
    const admin = h.client('admin');
    const web = sessionClient(h, await assume(h, WEB));
    const enc = () => errorName(web.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') })));
    expect(await enc()).toBe('AccessDeniedException');
    await admin.send(new CreateGrantCommand({ KeyId: key, GranteePrincipal: WEB, Operations: ['Encrypt'] }));
    expect(await enc()).toBe('OK');
    const key2 = await keyFor(h, ['system:serviceaccount:kms:nobody']);
    await admin.send(
      new CreateGrantCommand({
        KeyId: key2,
        GranteePrincipal: 'group:system:serviceaccounts:apps',
        Operations: ['Encrypt'],
      }),
    );
    expect(await errorName(web.send(new EncryptCommand({ KeyId: key2, Plaintext: Buffer.from('x') })))).toBe(
      'OK',
    );
  });

  it('expired session credentials get ExpiredTokenException', async () => {
    const { h } = await start({ minDurationSeconds: 60 });
    const key = await keyFor(h, [WEB]);
    const a = await assume(h, WEB, { DurationSeconds: '60' });
    const web = sessionClient(h, a);
    expect(await errorName(web.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') })))).toBe(
      'OK',
    );
    offset += 60_000;
    expect(await errorName(web.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') })))).toBe(
      'ExpiredTokenException',
    );
  });

  it('a tampered token, another root key, another access key or an unsigned token are refused', async () => {
    const { h } = await start();
    const key = await keyFor(h, [WEB]);
    const a = await assume(h, WEB);
    const c = a.credentials!;
    const enc = (creds: { accessKeyId: string; secretAccessKey: string; sessionToken: string }) => {
      const { accessKeyId, secretAccessKey, sessionToken } = creds;
      const client = new KMSClient({
        endpoint: h.server.endpoint,
        region: ARN.region,
        credentials: { accessKeyId, secretAccessKey, sessionToken },
        maxAttempts: 1,
      });
      clients.push(client);
      return errorName(client.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') })));
    };
    const t = c.sessionToken;
    for (let i = 4; i < t.length; i += Math.ceil(t.length / 12)) {
      const flipped = t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
      expect(await enc({ ...c, sessionToken: flipped }), `position ${i}`).toBe('UnrecognizedClientException');
    }
    expect(await enc({ ...c, sessionToken: `${t}A` })).toBe('UnrecognizedClientException');
    expect(await enc({ ...c, sessionToken: 'KKS1' })).toBe('UnrecognizedClientException');
    // Another session's key id with this session's token: the token names its own access key only.
    const b = (await assume(h, WEB)).credentials!;
    expect(await enc({ ...b, sessionToken: c.sessionToken })).toBe('UnrecognizedClientException');
    // Another installation's root key seals tokens this one does not open.
    const { h: h2 } = await start();
    const foreign = (await assume(h2, WEB)).credentials!;
    expect(await enc(foreign)).toBe('UnrecognizedClientException');
    expect(await enc(c)).toBe('OK');
  });

  it('the token must be signed', async () => {
    const { h } = await start();
    const c = (await assume(h, WEB)).credentials!;
    const { signHeaders } = await import('../testing/sign-headers.ts');
    const body = '{"KeyId":"alias/none","Plaintext":"eA=="}';
    const headers = signHeaders({
      host: new URL(h.server.endpoint).host,
      target: 'TrentService.Encrypt',
      body,
      accessKeyId: c.accessKeyId,
      secretAccessKey: c.secretAccessKey,
      region: ARN.region,
      now: now(),
    });
    const res = await fetch(h.server.endpoint, {
      method: 'POST',
      headers: { ...headers, 'x-amz-security-token': c.sessionToken },
      body,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toContain("Signed headers must include 'x-amz-security-token'");
  });

  it('are stateless: an instance with the same root key (a restart, another replica) accepts them', async () => {
    const root = new TestRootKey(nodeCrypto);
    const { h } = await start({ rootKey: root });
    const c = (await assume(h, WEB)).credentials!;
    const { h: replica } = await start({ rootKey: root });
    const client = sessionClient(replica, { status: 200, body: '', credentials: c });
    const { ListKeysCommand } = await import('@aws-sdk/client-kms');
    expect(await errorName(client.send(new ListKeysCommand({})))).toBe('OK');
  });

  it('share one replay budget per principal across its sessions', async () => {
    const { h } = await start({ replayBudgetPerKey: 3 });
    const key = await keyFor(h, [WEB]);
    const s1 = sessionClient(h, await assume(h, WEB));
    const s2 = sessionClient(h, await assume(h, WEB));
    const s3 = sessionClient(h, await assume(h, OTHER));
    const enc = (c: KMSClient) =>
      errorName(c.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('x') })));
    expect([await enc(s1), await enc(s2), await enc(s1)]).toEqual(['OK', 'OK', 'OK']);
    expect(await enc(s2)).toBe('ThrottlingException');
    expect(await enc(s3)).toBe('AccessDeniedException');
  });

  it('without web identity, a session token is refused as before', async () => {
    const h = await startHarness({ now });
    open.push(h);
    const client = new KMSClient({
      endpoint: h.server.endpoint,
      region: ARN.region,
      credentials: { accessKeyId: 'ASIAAAAAAAAAAAAAAAAA', secretAccessKey: 'x', sessionToken: 'KKS1abc' },
      maxAttempts: 1,
    });
    clients.push(client);
    expect(
      await errorName(client.send(new EncryptCommand({ KeyId: 'x', Plaintext: Buffer.from('x') }))),
    ).toBe('UnrecognizedClientException');
    const sts = await assume(h, WEB);
    expect(sts.status).toBe(400);
    expect(sts.body).toContain('__type');
  });
});

describe('the AWS SDK default credential chain', () => {
  it('uses only AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the endpoint variables', async () => {
    const { h } = await start();
    const key = await keyFor(h, [WEB]);
    const dir = mkdtempSync(join(tmpdir(), 'kubekms-sts-'));
    writeFileSync(join(dir, 'token'), token(WEB));
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
    Object.assign(process.env, {
      AWS_ROLE_ARN: ROLE,
      AWS_WEB_IDENTITY_TOKEN_FILE: join(dir, 'token'),
      AWS_ENDPOINT_URL_STS: h.server.endpoint,
      AWS_ENDPOINT_URL_KMS: h.server.endpoint,
      AWS_REGION: ARN.region,
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    });
    try {
      const kms = new KMSClient({ maxAttempts: 1 });
      clients.push(kms);
      const blob = await kms.send(new EncryptCommand({ KeyId: key, Plaintext: Buffer.from('chain') }));
      const back = await kms.send(new DecryptCommand({ CiphertextBlob: blob.CiphertextBlob! }));
      expect(Buffer.from(back.Plaintext!).toString()).toBe('chain');
    } finally {
      process.env = saved;
    }
    expect(h.logs()).toContain(`"operation":"Encrypt"`);
  });
});
