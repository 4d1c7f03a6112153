/**
 * Web identity with the AWS CLI (botocore; .ci/run installs it), against a listener whose TokenReview is a fake:
 * `aws sts assume-role-with-web-identity` unsigned, `aws kms` with the session credentials it returns, and the
 * CLI's own credential chain from AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE and the endpoint variables only.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateKeyCommand } from '@aws-sdk/client-kms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARN, type Harness, startHarness } from '../testing/harness.ts';
import { fakeJwt } from '../testing/sts.ts';

const run = promisify(execFile);
const ROLE = `arn:aws:iam::${ARN.account}:role/cli`;
let h: Harness;
let dir: string;
let keyId = '';

async function aws(args: string[], env: Record<string, string>): Promise<string> {
  try {
    const { stdout } = await run('aws', [...args, '--output', 'json'], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: dir,
        AWS_DEFAULT_REGION: ARN.region,
        AWS_CONFIG_FILE: join(dir, 'none'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_MAX_ATTEMPTS: '1',
        ...env,
      },
      timeout: 60_000,
    });
    return stdout;
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT')
      throw new Error(
        'the AWS CLI (`aws`) is not on PATH: install it with `pip install awscli` (.ci/run does this)',
      );
    throw new Error(`aws ${args.slice(0, 2).join(' ')}: ${(e as { stderr?: string }).stderr ?? String(e)}`);
  }
}

const token = () =>
  fakeJwt({
    sub: 'system:serviceaccount:apps:web',
    aud: 'kubekms',
    exp: Math.floor(Date.now() / 1000) + 3600,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-sts-cli-'));
  h = await startHarness({
    webIdentity: {
      audience: 'kubekms',
      minDurationSeconds: 900,
      review: async (t, audiences) => ({
        authenticated: true,
        username: (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { sub: string }).sub,
        uid: 'u',
        groups: [],
        audiences: [...audiences],
        error: '',
      }),
    },
  });
  const policy = {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: 'system:serviceaccount:kms:admin' },
        Action: 'kms:*',
        Resource: '*',
      },
      {
        Effect: 'Allow',
        Principal: { AWS: 'system:serviceaccount:apps:web' },
        Action: 'kms:Encrypt',
        Resource: '*',
      },
    ],
  };
  keyId = (await h.client('admin').send(new CreateKeyCommand({ Policy: JSON.stringify(policy) })))
    .KeyMetadata!.KeyId!;
});

afterAll(async () => {
  await h?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('web identity with the AWS CLI', () => {
  it('assume-role-with-web-identity without credentials, then kms encrypt with the session', async () => {
    const out = JSON.parse(
      await aws(
        [
          'sts',
          'assume-role-with-web-identity',
          ...['--role-arn', ROLE, '--role-session-name', 'cli', '--web-identity-token', token()],
          ...['--endpoint-url', h.server.endpoint],
        ],
        {},
      ),
    ) as { Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string } };
    expect(out.Credentials.AccessKeyId).toMatch(/^ASIA/);
    const enc = JSON.parse(
      await aws(
        ['kms', 'encrypt', '--key-id', keyId, '--plaintext', 'aGk=', '--endpoint-url', h.server.endpoint],
        {
          AWS_ACCESS_KEY_ID: out.Credentials.AccessKeyId,
          AWS_SECRET_ACCESS_KEY: out.Credentials.SecretAccessKey,
          AWS_SESSION_TOKEN: out.Credentials.SessionToken,
        },
      ),
    ) as { KeyId: string };
    expect(enc.KeyId).toContain(keyId);
    expect(h.logs()).toContain('"principal":"system:serviceaccount:apps:web"');
  }, 120_000);

  it("the CLI's credential chain from the environment variables only", async () => {
    const file = join(dir, 'token');
    await writeFile(file, token());
    const enc = JSON.parse(
      await aws(['kms', 'encrypt', '--key-id', keyId, '--plaintext', 'aGk='], {
        AWS_ROLE_ARN: ROLE,
        AWS_WEB_IDENTITY_TOKEN_FILE: file,
        AWS_ENDPOINT_URL_STS: h.server.endpoint,
        AWS_ENDPOINT_URL_KMS: h.server.endpoint,
      }),
    ) as { KeyId: string };
    expect(enc.KeyId).toContain(keyId);
  }, 120_000);
});
