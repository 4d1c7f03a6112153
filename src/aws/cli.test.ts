/**
 * The AWS CLI (pip install awscli; .ci/run installs it) against kubekms with --endpoint-url:
 * create-key, create-alias, list-keys, list-aliases, encrypt, decrypt, and an error as the CLI shows it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARN, CREDENTIALS, type Harness, startHarness } from './testing/harness.ts';

const run = promisify(execFile);
let h: Harness;
let dir: string;

async function aws(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  const c = CREDENTIALS.admin;
  try {
    const { stdout, stderr } = await run(
      'aws',
      ['kms', ...args, '--endpoint-url', h.server.endpoint, '--output', 'json'],
      {
        env: {
          PATH: process.env.PATH ?? '',
          HOME: dir,
          AWS_ACCESS_KEY_ID: c.accessKeyId,
          AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
          AWS_DEFAULT_REGION: ARN.region,
          AWS_CONFIG_FILE: join(dir, 'none'),
          AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_MAX_ATTEMPTS: '1',
        },
        timeout: 60_000,
      },
    );
    return { stdout, stderr, code: 0 };
  } catch (e) {
    const err = e as { code?: unknown; stdout?: string; stderr?: string };
    if (err.code === 'ENOENT') {
      throw new Error(
        'the AWS CLI (`aws`) is not on PATH: install it with `pip install awscli` (.ci/run does this)',
      );
    }
    return {
      stdout: err.stdout ?? '',
      stderr: err.stderr ?? '',
      code: typeof err.code === 'number' ? err.code : -1,
    };
  }
}

beforeAll(async () => {
  h = await startHarness();
  dir = await mkdtemp(join(tmpdir(), 'kubekms-awscli-'));
});

afterAll(async () => {
  expect(h.violations).toEqual([]);
  await h.close();
  await rm(dir, { recursive: true, force: true });
});

describe('AWS CLI', () => {
  it('create-key, create-alias, list-keys, list-aliases, encrypt and decrypt', async () => {
    const created = await aws('create-key', '--description', 'from the cli');
    expect(created.stderr).toBe('');
    const meta = JSON.parse(created.stdout).KeyMetadata;
    expect(meta.Arn).toBe(`arn:aws:kms:${ARN.region}:${ARN.account}:key/${meta.KeyId}`);
    expect((await aws('create-alias', '--alias-name', 'alias/cli', '--target-key-id', meta.KeyId)).code).toBe(
      0,
    );
    const keys = JSON.parse((await aws('list-keys')).stdout).Keys as { KeyId: string }[];
    expect(keys.map((k) => k.KeyId)).toContain(meta.KeyId);
    const aliases = JSON.parse((await aws('list-aliases')).stdout).Aliases as {
      AliasName: string;
      TargetKeyId: string;
    }[];
    expect(aliases).toContainEqual(
      expect.objectContaining({ AliasName: 'alias/cli', TargetKeyId: meta.KeyId }),
    );

    await writeFile(join(dir, 'plain.bin'), 'hello from the AWS CLI');
    const enc = JSON.parse(
      (
        await aws(
          'encrypt',
          '--key-id',
          'alias/cli',
          '--plaintext',
          `fileb://${join(dir, 'plain.bin')}`,
          '--encryption-context',
          'app=cli',
        )
      ).stdout,
    );
    expect(enc.KeyId).toBe(meta.Arn);
    await writeFile(join(dir, 'blob.bin'), Buffer.from(enc.CiphertextBlob, 'base64'));
    const dec = JSON.parse(
      (
        await aws(
          'decrypt',
          '--ciphertext-blob',
          `fileb://${join(dir, 'blob.bin')}`,
          '--encryption-context',
          'app=cli',
        )
      ).stdout,
    );
    expect(Buffer.from(dec.Plaintext, 'base64').toString()).toBe('hello from the AWS CLI');
    expect(dec.KeyId).toBe(meta.Arn);

    const wrong = await aws('decrypt', '--ciphertext-blob', `fileb://${join(dir, 'blob.bin')}`);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/InvalidCiphertextException/);
    // botocore signs no per-call id: the same call twice at once carries the same signature and is not a replay.
    const twice = await Promise.all([aws('list-keys'), aws('list-keys')]);
    expect(twice.map((r) => [r.code, r.stderr])).toEqual([
      [0, ''],
      [0, ''],
    ]);
  }, 120_000);
});
