import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReplayCache } from './replay-cache.ts';
import {
  canonicalQuery,
  canonicalRequest,
  headerValues,
  parseAuthorization,
  SigV4Verifier,
  sha256Hex,
  signHeaders,
  signingKey,
  stringToSign,
} from './sigv4.ts';

describe('SigV4 primitives', () => {
  it('reproduces the AWS documentation example (get-vanilla of the SigV4 test suite)', () => {
    // AWS SigV4 test suite "get-vanilla": GET / on example.amazonaws.com, 20150830T123600Z, us-east-1, service.
    const headers = headerValues(['Host', 'example.amazonaws.com', 'X-Amz-Date', '20150830T123600Z']);
    const canonical = canonicalRequest('GET', '/', headers, ['host', 'x-amz-date'], sha256Hex(''));
    expect(canonical).toBe(
      'GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
    const sts = stringToSign('20150830T123600Z', '20150830/us-east-1/service/aws4_request', canonical);
    expect(sts.split('\n')[3]).toBe('bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63');
    const key = signingKey('wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', '20150830', 'us-east-1', 'service');
    expect(createHmac('sha256', key).update(sts).digest('hex')).toBe(
      '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  it('canonicalizes header values and query strings as the SDKs do', () => {
    const h = headerValues(['My-Header', '  a   b  ', 'my-header', 'c']);
    expect(h.get('my-header')).toBe('a b,c');
    expect(canonicalQuery('b=2&a=1&a=0&c')).toBe('a=0&a=1&b=2&c=');
    expect(canonicalQuery('x=a%20b&y=%7E!')).toBe('x=a%20b&y=~%21');
  });

  it('parses Authorization headers and names what is missing', () => {
    const a = parseAuthorization(
      'AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc',
    );
    expect(a).toMatchObject({
      accessKeyId: 'AKID',
      region: 'eu-west-1',
      service: 'kms',
      signedHeaders: ['host', 'x-amz-date'],
    });
    const reordered = parseAuthorization(
      'AWS4-HMAC-SHA256 Signature=abc,SignedHeaders=host;x-amz-date,  Credential=AKID/20260101/eu-west-1/kms/aws4_request',
    );
    expect(reordered).toEqual(a);
    expect(() => parseAuthorization('AWS4-HMAC-SHA256 Credential=a/b/c/d/e, Signature=x')).toThrow(
      /SignedHeaders/,
    );
    expect(() => parseAuthorization('AWS4-HMAC-SHA1 Credential=x')).toThrow(/algorithm/);
  });
});

describe('SigV4Verifier', () => {
  const now = Date.UTC(2026, 5, 1, 12, 0, 0);
  let clock = now;
  const verifier = () =>
    new SigV4Verifier({
      secretOf: (id) => (id === 'AKID' ? 'secret' : undefined),
      region: 'eu-west-1',
      replay: new ReplayCache(100, 5 * 60_000),
      now: () => clock,
    });
  const req = (headers: Record<string, string>, body: string) => ({
    method: 'POST',
    url: '/',
    rawHeaders: Object.entries(headers).flat(),
    body: Buffer.from(body),
  });
  const sign = (body: string, o: { now?: number; secret?: string; invocationId?: boolean } = {}) =>
    signHeaders({
      ...(o.invocationId === false ? { invocationId: false } : {}),
      host: 'kms.local:443',
      target: 'TrentService.ListKeys',
      body,
      accessKeyId: 'AKID',
      secretAccessKey: o.secret ?? 'secret',
      region: 'eu-west-1',
      now: o.now ?? now,
    });

  it('accepts a valid request once and names the access key', () => {
    const v = verifier();
    const h = sign('{}');
    expect(v.verify(req(h, '{}'))).toBe('AKID');
    expect(() => v.verify(req(h, '{}'))).toThrow(/replay/);
  });

  it('allows a botocore-style signature (no signed per-call id) again for 2 s after its first use, not later', () => {
    const v = verifier();
    const h = sign('{}', { invocationId: false });
    clock = now;
    expect(v.verify(req(h, '{}'))).toBe('AKID');
    clock = now + 1500;
    expect(v.verify(req(h, '{}'))).toBe('AKID');
    clock = now + 2500;
    expect(() => v.verify(req(h, '{}'))).toThrow(/replay/);
    const js = sign('{}');
    clock = now;
    expect(v.verify(req(js, '{}'))).toBe('AKID');
    expect(() => v.verify(req(js, '{}'))).toThrow(/replay/);
  });

  it('refuses a signature that is not hex, or of the wrong length, in constant time', () => {
    const h = sign('{}');
    for (const sig of ['zz', 'ab'.repeat(31), 'AB'.repeat(32)]) {
      const bad = { ...h, authorization: h.authorization!.replace(/Signature=\w+/, `Signature=${sig}`) };
      expect(() => verifier().verify(req(bad, '{}'))).toThrow(/does not match/);
    }
  });

  it('checks the clock skew at exactly ±5 minutes', () => {
    expect(verifier().verify(req(sign('{}', { now: now - 300_000 }), '{}'))).toBe('AKID');
    expect(() => verifier().verify(req(sign('{}', { now: now - 301_000 }), '{}'))).toThrow(
      /Signature expired/,
    );
    expect(verifier().verify(req(sign('{}', { now: now + 300_000 }), '{}'))).toBe('AKID');
    expect(() => verifier().verify(req(sign('{}', { now: now + 301_000 }), '{}'))).toThrow(/not yet current/);
  });

  it('requires host, x-amz-date and x-amz-target to be signed, and honours x-amz-content-sha256', () => {
    const h = sign('{}');
    const unsigned = { ...h, authorization: h.authorization!.replace(';x-amz-target', '') };
    expect(() => verifier().verify(req(unsigned, '{}'))).toThrow(/x-amz-target/);
    expect(() => verifier().verify(req({ ...h, 'x-amz-content-sha256': sha256Hex('other') }, '{}'))).toThrow(
      /x-amz-content-sha256/,
    );
  });
});

describe('ReplayCache', () => {
  it('remembers signatures for the window and fails closed when full', () => {
    const c = new ReplayCache(2, 1000);
    expect(c.check('a', 100, 100)).toBe('fresh');
    expect(c.check('a', 100, 200)).toBe('replayed');
    expect(c.check('b', 150, 200)).toBe('fresh');
    expect(c.check('c', 160, 200)).toBe('fresh'); // evicts a (signed at 100): horizon 100
    expect(c.size).toBe(2);
    expect(c.check('a', 100, 300)).toBe('beyond-horizon');
    expect(c.check('d', 99, 300)).toBe('beyond-horizon');
    expect(c.check('e', 170, 300)).toBe('fresh'); // evicts b: horizon 150
    expect(c.check('f', 150, 300)).toBe('beyond-horizon');
    // Entries older than the window expire without moving the horizon.
    expect(c.check('g', 5000, 5000)).toBe('fresh');
    expect(c.size).toBe(1);
    expect(c.check('h', 5001, 5001)).toBe('fresh');
    expect(c.check('g', 5000, 5002)).toBe('replayed');
    expect(c.check('h', 5001, 5002, 10)).toBe('repeat');
    expect(c.check('h', 5001, 5012, 10)).toBe('replayed');
  });
});
