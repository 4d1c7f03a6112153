/**
 * `kubekms serve` with the AWS API flags: the dev credential and its log line, the loopback rule for plain
 * HTTP, HTTPS with a certificate, the credentials file, env twins, and a refusal to start a listener nobody
 * could authenticate to.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CreateKeyCommand, DescribeKeyCommand, EncryptCommand, KMSClient } from '@aws-sdk/client-kms';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseFlags } from '../cli/flags.ts';
import { type Running, serve } from '../cli/serve.ts';
import { serveConfig } from '../cli/serve-config.ts';
import { SERVE_FLAGS } from '../cli/serve-flags.ts';
import { signHeaders } from './testing/sign-headers.ts';

let dir: string;
let logs: string;
const running: Running[] = [];

async function start(args: string[], env: Record<string, string> = {}): Promise<Running> {
  const sink = new PassThrough();
  sink.on('data', (c: Buffer) => {
    logs += c.toString();
  });
  const { values } = parseFlags(
    SERVE_FLAGS,
    ['--data-dir', join(dir, 'data'), '--kms-socket', '', '--health-listen', '', ...args],
    env,
  );
  const r = await serve(serveConfig(values, env), sink);
  running.push(r);
  return r;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubekms-aws-serve-'));
  logs = '';
});

afterEach(async () => {
  for (const r of running.splice(0)) await r.stop();
  await rm(dir, { recursive: true, force: true });
});

const client = (endpoint: string, accessKeyId: string, secretAccessKey: string) =>
  new KMSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    maxAttempts: 1,
  });

describe('kubekms serve --aws-listen', () => {
  it('in --dev mode test/test is an administrator, and a start-up line says so', async () => {
    const r = await start(['--dev', '--aws-listen', '127.0.0.1:0']);
    expect(r.aws?.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(logs).toMatch(
      /dev mode: the AWS API access key \\"test\\" with secret \\"test\\" is an administrator/,
    );
    const c = client(r.aws!.endpoint, 'test', 'test');
    const k = await c.send(new CreateKeyCommand({}));
    expect(k.KeyMetadata!.Arn).toMatch(/^arn:aws:kms:us-east-1:000000000000:key\//);
    // Audit lines go where the process log goes.
    expect(logs).toMatch(/"audit":true,"api":"aws".*"operation":"CreateKey".*"principal":"kubekms:dev:test"/);
    c.destroy();
  });

  it('is off by default and takes its settings from env twins', async () => {
    expect((await start(['--dev'])).aws).toBeUndefined();
    const r = await start(['--dev', '--data-dir', join(dir, 'data2')], { KUBEKMS_AWS_LISTEN: '127.0.0.1:0' });
    expect(r.aws?.endpoint).toMatch(/^http:/);
  });

  it('refuses plain HTTP off loopback, half a TLS pair, and a listener without credentials', async () => {
    await expect(start(['--dev', '--aws-listen', '0.0.0.0:0'])).rejects.toThrow(
      /--aws-listen: plain HTTP is allowed only on a loopback address.*--aws-tls-cert/,
    );
    await expect(start(['--dev', '--aws-listen', '127.0.0.1:0', '--aws-tls-cert', 'x'])).rejects.toThrow(
      /--aws-tls-cert and --aws-tls-key: give both/,
    );
    await expect(
      start([
        '--data-dir',
        join(dir, 'fresh'),
        '--root-key-file',
        await rootKey(),
        '--aws-listen',
        '127.0.0.1:0',
      ]),
    ).rejects.toThrow(/--aws-listen: no credentials; give --aws-credentials/);
    await expect(start(['--dev', '--aws-listen', 'nonsense'])).rejects.toThrow(
      /--aws-listen: expected HOST:PORT/,
    );
  });

  it('refuses limits below 1, naming the flag', async () => {
    for (const flag of [
      '--aws-max-connections',
      '--aws-replay-budget',
      '--aws-max-keys',
      '--aws-key-creations-per-hour',
    ]) {
      await expect(start(['--dev', '--aws-listen', '127.0.0.1:0', flag, '0'])).rejects.toThrow(
        new RegExp(`${flag}: must be a whole number of at least 1`),
      );
    }
    await expect(
      start(['--dev', '--health-listen', '127.0.0.1:0', '--health-max-connections', '0']),
    ).rejects.toThrow(/--health-max-connections/);
  });

  it('the Secrets key serves the plugin only: even the dev administrator cannot use it, but sees it', async () => {
    const r = await start(['--dev', '--aws-listen', '127.0.0.1:0']);
    const c = client(r.aws!.endpoint, 'test', 'test');
    await expect(
      c.send(new EncryptCommand({ KeyId: 'alias/kubekms/secrets', Plaintext: Buffer.from('seed') })),
    ).rejects.toThrow(/serves the KMS v2 plugin only/);
    const d = await c.send(new DescribeKeyCommand({ KeyId: 'alias/kubekms/secrets' }));
    expect(d.KeyMetadata?.KeyManager).toBe('AWS');
    c.destroy();
  });

  it('cluster mode needs the operator and a wait shorter than the request timeout', async () => {
    await expect(
      start(['--dev', '--aws-listen', '127.0.0.1:0', '--aws-management', 'cluster']),
    ).rejects.toThrow(/--aws-management=cluster needs --operator/);
    await expect(
      start([
        '--dev',
        '--aws-listen',
        '127.0.0.1:0',
        '--operator',
        '--kubeconfig',
        join(dir, 'absent-kubeconfig'),
        '--aws-cluster-timeout',
        '40s',
      ]),
    ).rejects.toThrow(/--aws-cluster-timeout \(40000 ms\) must be shorter than --aws-request-timeout/);
    await expect(
      start(['--dev', '--aws-listen', '127.0.0.1:0', '--aws-management', 'bogus']),
    ).rejects.toThrow(/aws-management.*must be one of auto, engine, cluster/);
  });

  it('loads the credentials file (mode 0600 only) and authorizes by principal', async () => {
    const file = join(dir, 'creds.json');
    await writeFile(
      file,
      JSON.stringify({
        credentials: [
          {
            accessKeyId: 'AKIAOPS',
            secretAccessKey: 'ops-secret',
            principal: 'system:serviceaccount:kms:ops',
            admin: true,
          },
          {
            accessKeyId: 'AKIAAPP',
            secretAccessKey: 'app-secret',
            principal: 'system:serviceaccount:apps:web',
          },
        ],
      }),
    );
    await chmod(file, 0o640);
    const key = await rootKey();
    await expect(
      start(['--root-key-file', key, '--aws-listen', '127.0.0.1:0', '--aws-credentials', file]),
    ).rejects.toThrow(/--aws-credentials: .*mode 0640/);
    await chmod(file, 0o600);
    const r = await start(['--root-key-file', key, '--aws-listen', '127.0.0.1:0', '--aws-credentials', file]);
    const ops = client(r.aws!.endpoint, 'AKIAOPS', 'ops-secret');
    const app = client(r.aws!.endpoint, 'AKIAAPP', 'app-secret');
    const k = (await ops.send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
    await expect(
      app.send(new EncryptCommand({ KeyId: k, Plaintext: Buffer.from('x') })),
    ).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
    await expect(
      client(r.aws!.endpoint, 'test', 'test').send(new CreateKeyCommand({})),
    ).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
    });
    ops.destroy();
    app.destroy();
  });

  it('serves HTTPS with --aws-tls-cert/--aws-tls-key on any address', async () => {
    const cert = join(dir, 'tls.crt');
    const key = join(dir, 'tls.key');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        key,
        '-out',
        cert,
      ],
      { stdio: 'ignore' },
    );
    const r = await start([
      '--dev',
      '--aws-listen',
      '0.0.0.0:0',
      '--aws-tls-cert',
      cert,
      '--aws-tls-key',
      key,
    ]);
    expect(r.aws!.endpoint).toMatch(/^https:\/\/0\.0\.0\.0:\d+$/);
    const port = Number(new URL(r.aws!.endpoint).port);
    const body = '{}';
    const headers = signHeaders({
      host: `127.0.0.1:${port}`,
      target: 'TrentService.ListKeys',
      body,
      accessKeyId: 'test',
      secretAccessKey: 'test',
      region: 'us-east-1',
    });
    const ca = await readFile(cert);
    const reply = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers, ca }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(body);
    });
    expect(reply.status).toBe(200);
    expect(JSON.parse(reply.body)).toMatchObject({ Truncated: false });
  });
});

async function rootKey(): Promise<string> {
  const f = join(dir, `root-${Math.random().toString(36).slice(2)}.key`);
  await writeFile(f, Buffer.alloc(32, 7).toString('hex'));
  await chmod(f, 0o600);
  return f;
}
