/**
 * The wire protocol and authentication against a real listener, with raw HTTP where an SDK would not send
 * what we need: every bad request gets an AWS-shaped error with the right status and x-amzn-RequestId, never a
 * 500 and never a hang. Also the audit line and the metrics.
 */
import { request } from 'node:http';
import { CreateKeyCommand, EncryptCommand, KMSClient, ListKeysCommand } from '@aws-sdk/client-kms';
import type { FinalizeHandler, FinalizeHandlerArguments, MetadataBearer } from '@smithy/types';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARN, CREDENTIALS, errorName, type Harness, startHarness } from './testing/harness.ts';
import { signHeaders } from './testing/sign-headers.ts';

let h: Harness;
let keyId: string;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: { __type?: string; message?: string } & Record<string, unknown>;
}

function send(
  o: { method?: string; path?: string; headers?: Record<string, string>; body?: string | Buffer },
  endpoint = h.server.endpoint,
): Promise<Reply> {
  const url = new URL(endpoint);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: o.method ?? 'POST',
        path: o.path ?? '/',
        headers: o.headers ?? {},
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => {
          let json = {};
          try {
            json = body ? JSON.parse(body) : {};
          } catch {
            json = { unparsed: body };
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    req.end(o.body);
  });
}

/** A request signed the way the SDKs sign, with overrides for the tests. */
function signed(
  target: string,
  body: string,
  o: {
    who?: keyof typeof CREDENTIALS;
    secret?: string;
    region?: string;
    now?: number;
    contentType?: string;
    extra?: Record<string, string>;
  } = {},
) {
  const c = CREDENTIALS[o.who ?? 'admin'];
  const url = new URL(h.server.endpoint);
  const headers = signHeaders({
    host: url.host,
    target,
    body,
    accessKeyId: c.accessKeyId,
    secretAccessKey: o.secret ?? c.secretAccessKey,
    region: o.region ?? ARN.region,
    ...(o.now !== undefined ? { now: o.now } : {}),
    ...(o.contentType ? { contentType: o.contentType } : {}),
  });
  return { headers: { ...headers, ...o.extra }, body };
}

const ENC = 'TrentService.Encrypt';

function expectError(r: Reply, status: number, type: string, message?: RegExp) {
  expect({ status: r.status, type: r.json.__type }).toEqual({ status, type });
  expect(r.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
  expect(r.headers['content-type']).toBe('application/x-amz-json-1.1');
  expect(Object.keys(r.json).sort()).toEqual(['__type', 'message']);
  if (message) expect(r.json.message).toMatch(message);
}

beforeAll(async () => {
  h = await startHarness({ requestTimeoutMs: 1000 });
  keyId = (await h.client().send(new CreateKeyCommand({}))).KeyMetadata!.KeyId!;
});

afterAll(async () => {
  if (h.violations.length)
    console.log(
      h
        .logs()
        .split('\n')
        .filter((l) => l.includes('unexpectedly'))
        .join('\n'),
    );
  expect(h.violations).toEqual([]);
  await h.close();
});

describe('routing, content type and JSON', () => {
  it('answers a signed request with 200, the request id and the AWS content type', async () => {
    const r = await send(signed(ENC, JSON.stringify({ KeyId: keyId, Plaintext: 'aGk=' })));
    expect(r.status).toBe(200);
    expect(r.headers['x-amzn-requestid']).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers['content-type']).toBe('application/x-amz-json-1.1');
    expect(r.json.KeyId).toBe(`arn:aws:kms:${ARN.region}:${ARN.account}:key/${keyId}`);
    const j = await send(
      signed(ENC, JSON.stringify({ KeyId: keyId, Plaintext: 'aGk=', Future: 1 }), {
        contentType: 'application/json',
      }),
    );
    expect(j.status).toBe(200);
  });

  it('refuses other methods, paths, targets and content types', async () => {
    expectError(await send({ method: 'GET' }), 400, 'UnknownOperationException');
    expectError(await send({ path: '/other' }), 400, 'UnknownOperationException');
    expectError(await send(signed('TrentService.NoSuchThing', '{}')), 400, 'UnknownOperationException');
    expectError(await send(signed('Other.Encrypt', '{}')), 400, 'UnknownOperationException');
    expectError(await send(signed('TrentService.__proto__', '{}')), 400, 'UnknownOperationException');
    expectError(
      await send(signed('TrentService.ImportKeyMaterial', '{}')),
      400,
      'UnsupportedOperationException',
    );
    expectError(await send(signed('TrentService.ReplicateKey', '{}')), 400, 'UnsupportedOperationException');
    expectError(await send(signed(ENC, '{}', { contentType: 'text/plain' })), 400, 'SerializationException');
  });

  it('malformed JSON and non-objects are SerializationException', async () => {
    for (const body of ['{', 'null', '[1]', '"x"', '{"KeyId":']) {
      expectError(await send(signed(ENC, body)), 400, 'SerializationException');
    }
  });

  it('wrong types and missing members are ValidationException naming the member', async () => {
    const cases: [object, RegExp][] = [
      [{ KeyId: 5, Plaintext: 'aGk=' }, /'KeyId'/],
      [{ KeyId: keyId, Plaintext: 'not base64!' }, /'Plaintext'/],
      [{ KeyId: keyId, Plaintext: 'aGk=', EncryptionContext: { a: 1 } }, /'EncryptionContext\.a'/],
      [{ KeyId: keyId, Plaintext: 'aGk=', EncryptionContext: [] }, /'EncryptionContext'/],
      [{ KeyId: keyId, Plaintext: 'aGk=', GrantTokens: 'x' }, /'GrantTokens'/],
      [{ KeyId: keyId, Plaintext: 'aGk=', DryRun: 'yes' }, /'DryRun'/],
      [{ KeyId: keyId }, /'Plaintext'.*must not be null/],
    ];
    for (const [body, msg] of cases)
      expectError(await send(signed(ENC, JSON.stringify(body))), 400, 'ValidationException', msg);
    expectError(
      await send(signed('TrentService.ListKeys', JSON.stringify({ Limit: 1.5 }))),
      400,
      'ValidationException',
      /'Limit'/,
    );
    expectError(
      await send(signed('TrentService.CreateKey', JSON.stringify({ Tags: [{ TagKey: 'a' }] }))),
      400,
      'ValidationException',
      /'Tags\[0\]\.TagValue'/,
    );
  });

  it('an oversize body is 413 RequestEntityTooLargeException, with or without Content-Length', async () => {
    const big = JSON.stringify({ KeyId: keyId, Plaintext: 'A'.repeat(100_000) });
    expectError(await send(signed(ENC, big)), 413, 'RequestEntityTooLargeException');
    const chunked = signed(ENC, big);
    const r = await send({
      headers: { ...chunked.headers, 'transfer-encoding': 'chunked' },
      body: Buffer.from(big),
    });
    expectError(r, 413, 'RequestEntityTooLargeException');
    // The listener is still fine afterwards.
    expect((await send(signed(ENC, JSON.stringify({ KeyId: keyId, Plaintext: 'aGk=' })))).status).toBe(200);
  });

  it('a client that stalls mid-body is cut off by the request timeout, not left hanging', async () => {
    const url = new URL(h.server.endpoint);
    const started = Date.now();
    const status = await new Promise<number | string>((resolve) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: 'POST',
          path: '/',
          headers: { 'content-length': '100' },
        },
        (res) => resolve(res.statusCode ?? 0),
      );
      req.on('error', (e) => resolve(e.message));
      req.write('{"KeyId":');
    });
    expect(Date.now() - started).toBeLessThan(5000);
    expect(status === 408 || typeof status === 'string').toBe(true);
  });
});

describe('SigV4', () => {
  const ok = () => JSON.stringify({ KeyId: keyId, Plaintext: 'aGk=' });

  it('missing, incomplete and unknown credentials', async () => {
    expectError(
      await send({
        headers: { 'x-amz-target': ENC, 'content-type': 'application/x-amz-json-1.1' },
        body: ok(),
      }),
      400,
      'MissingAuthenticationTokenException',
    );
    const s = signed(ENC, ok());
    expectError(
      await send({ ...s, headers: { ...s.headers, authorization: 'AWS4-HMAC-SHA256 Credential=x' } }),
      400,
      'IncompleteSignatureException',
    );
    expectError(
      await send({ ...s, headers: { ...s.headers, authorization: 'Basic dGVzdDp0ZXN0' } }),
      400,
      'IncompleteSignatureException',
    );
    const noDate = { ...s.headers } as Record<string, string>;
    delete noDate['x-amz-date'];
    expectError(await send({ ...s, headers: noDate }), 400, 'IncompleteSignatureException');
    expectError(
      await send({
        ...s,
        headers: {
          ...s.headers,
          authorization: s.headers.authorization!.replace(
            CREDENTIALS.admin.accessKeyId,
            'AKIAUNKNOWNUNKNOWN00',
          ),
        },
      }),
      400,
      'UnrecognizedClientException',
    );
    expectError(
      await send({ path: '/?X-Amz-Signature=abc', body: ok() }),
      400,
      'IncompleteSignatureException',
    );
  });

  it('forged, tampered, expired, future, wrong-region and session-token requests are refused', async () => {
    expectError(
      await send(signed(ENC, ok(), { secret: 'wrong' })),
      400,
      'InvalidSignatureException',
      /does not match/,
    );
    const s = signed(ENC, ok());
    expectError(await send({ ...s, body: ok().replace('aGk=', 'aGl=') }), 400, 'InvalidSignatureException');
    expectError(
      await send({ ...s, headers: { ...s.headers, 'x-amz-target': 'TrentService.Decrypt' } }),
      400,
      'InvalidSignatureException',
    );
    expectError(
      await send(signed(ENC, ok(), { now: Date.now() - 6 * 60_000 })),
      400,
      'InvalidSignatureException',
      /Signature expired/,
    );
    expectError(
      await send(signed(ENC, ok(), { now: Date.now() + 6 * 60_000 })),
      400,
      'InvalidSignatureException',
      /not yet current/,
    );
    expect((await send(signed(ENC, ok(), { now: Date.now() - 4 * 60_000 }))).status).toBe(200);
    expectError(
      await send(signed(ENC, ok(), { region: 'us-west-2' })),
      400,
      'InvalidSignatureException',
      /region/,
    );
    expectError(
      await send(signed(ENC, ok(), { extra: { 'x-amz-security-token': 'session' } })),
      400,
      'UnrecognizedClientException',
      /Session credentials/,
    );
    expect(await errorName(h.client('admin', 'us-west-2').send(new ListKeysCommand({})))).toBe(
      'InvalidSignatureException',
    );
    const forger = new KMSClient({
      endpoint: h.server.endpoint,
      region: ARN.region,
      credentials: { accessKeyId: CREDENTIALS.admin.accessKeyId, secretAccessKey: 'guess' },
      maxAttempts: 1,
    });
    expect(await errorName(forger.send(new ListKeysCommand({})))).toBe('InvalidSignatureException');
    forger.destroy();
  });

  it('a replayed request is refused, whether signed by us or by the SDK', async () => {
    const s = signed(ENC, ok());
    expect((await send(s)).status).toBe(200);
    expectError(await send(s), 400, 'InvalidSignatureException', /replay/);
    const client = h.client();
    let captured: { headers: Record<string, string>; body: string } | undefined;
    client.middlewareStack.addRelativeTo(
      (next: FinalizeHandler<object, MetadataBearer>) => async (args: FinalizeHandlerArguments<object>) => {
        const req = args.request as { headers: Record<string, string>; body: string };
        captured = { headers: { ...req.headers }, body: req.body };
        return next(args);
      },
      { relation: 'after', toMiddleware: 'httpSigningMiddleware', name: 'capture' },
    );
    await client.send(new EncryptCommand({ KeyId: keyId, Plaintext: Buffer.from('once') }));
    expect(captured?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    expectError(await send(captured!), 400, 'InvalidSignatureException', /replay/);
  });
});

describe('audit and metrics', () => {
  it('one audit line per request with context keys only, and kubekms_requests_total', async () => {
    const c = h.client();
    await c.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: Buffer.from('top secret text'),
        EncryptionContext: { tenant: 'value-xyz' },
      }),
    );
    const lines = h
      .logs()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.audit === true);
    const last = lines.at(-1)!;
    expect(last).toMatchObject({
      api: 'aws',
      operation: 'Encrypt',
      principal: CREDENTIALS.admin.caller.name,
      keyArn: `arn:aws:kms:${ARN.region}:${ARN.account}:key/${keyId}`,
      encryptionContextKeys: ['tenant'],
      result: 'ok',
      status: 200,
    });
    expect(typeof last.latencyMs).toBe('number');
    expect(lines.some((l) => l.result === 'InvalidSignatureException')).toBe(true);
    const text = h.logs();
    expect(text).not.toContain('value-xyz');
    expect(text).not.toContain(Buffer.from('top secret text').toString('base64'));
    expect(text).not.toContain(CREDENTIALS.admin.secretAccessKey);
    expect(text).not.toMatch(/Signature=/);
    const metrics = await h.metrics.registry.metrics();
    expect(metrics).toMatch(/kubekms_requests_total\{api="aws",operation="Encrypt",result="ok"\} \d+/);
    expect(metrics).toMatch(
      /kubekms_requests_total\{api="aws",operation="unknown",result="MissingAuthenticationTokenException"\} \d+/,
    );
    expect(metrics).toMatch(
      /kubekms_request_duration_seconds_bucket\{le="0.01",api="aws",operation="Encrypt"\}/,
    );
    expect(h.seen.filter((s) => s.status >= 500)).toEqual([]);
  });
});
