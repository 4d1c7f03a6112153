import { createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { ReplayCache } from './replay-cache.ts';
import {
  canonicalQuery,
  canonicalRequest,
  headerValues,
  parseAuthorization,
  SigV4Verifier,
  sha256Hex,
  signingKey,
  stringToSign,
} from './sigv4.ts';
import { signHeaders } from './testing/sign-headers.ts';

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
  it('remembers signatures for the window, per access key, and throttles only a key whose budget is full', () => {
    const c = new ReplayCache(2, 1000);
    expect(c.check('A', 'a', 100, 100)).toBe('fresh');
    expect(c.check('A', 'a', 100, 200)).toBe('replayed');
    expect(c.check('A', 'b', 150, 200)).toBe('fresh');
    expect(c.check('A', 'c', 160, 200)).toBe('throttled'); // A's budget is full: nothing is forgotten early
    expect(c.check('B', 'c', 160, 200)).toBe('fresh'); // B has its own budget
    expect(c.check('B', 'd', 900, 200)).toBe('fresh');
    expect(c.size('A')).toBe(2);
    expect(c.size()).toBe(4);
    // Once their signing second has left the window, A's entries expire and A may sign again.
    expect(c.check('A', 'e', 2500, 2500)).toBe('fresh');
    expect(c.size('A')).toBe(1);
    expect(c.check('A', 'f', 2501, 2501)).toBe('fresh');
    expect(c.check('A', 'g', 2502, 2502)).toBe('throttled');
    expect(c.check('B', 'g', 2600, 2600)).toBe('fresh');
    expect(c.check('B', 'g', 2600, 2605, 10)).toBe('repeat');
    expect(c.check('B', 'g', 2600, 2615, 10)).toBe('replayed');
  });

  it('a future-dated flood stays within its own key and expires with its own dates', () => {
    const c = new ReplayCache(100, 300_000);
    const now = 1_000_000_000;
    for (let i = 0; i < 100; i++) expect(c.check('A', `a${i}`, now + 240_000, now)).toBe('fresh');
    expect(c.check('A', 'late', now, now)).toBe('throttled');
    for (let i = 0; i < 100; i++) expect(c.check('B', `b${i}`, now + i, now + i)).toBe('fresh');
    // A's entries live until their signing time leaves the window (4 + 5 minutes), not longer.
    expect(c.check('A', 'after', now + 541_000, now + 541_000)).toBe('fresh');
    expect(c.size('A')).toBe(1);
  });

  it('survives a wall clock stepped backwards (entries from a swept second are swept again)', () => {
    const c = new ReplayCache(10, 1000);
    expect(c.check('A', 'x', 10_000, 10_000)).toBe('fresh');
    expect(c.check('A', 'y', 3_000, 3_000)).toBe('fresh'); // the clock went back 7 s
    expect(c.check('A', 'z', 10_500, 10_500)).toBe('fresh');
    expect(c.size('A')).toBe(2); // y expired
  });

  it('gives back the memory of a key that went quiet: the next call of any key, or the idle sweep, drops it', () => {
    let clock = 1_000_000;
    const c = new ReplayCache(1000, 1000, () => clock);
    for (let i = 0; i < 500; i++) expect(c.check('quiet', `q${i}`, clock, clock)).toBe('fresh');
    expect(c.check('busy', 'b0', clock, clock)).toBe('fresh');
    clock += 2_500;
    expect(c.check('busy', 'b1', clock, clock)).toBe('fresh');
    expect(c.size('quiet')).toBe(0); // swept although 'quiet' made no call
    expect(c.keyCount).toBe(1);
    clock += 2_500;
    c.sweep(); // what the idle timer does
    expect(c.size()).toBe(0);
    expect(c.keyCount).toBe(0);
  });

  it('sweeps on its own while it remembers anything, and stops its timer when empty', async () => {
    vi.useFakeTimers({ now: 5_000_000 });
    try {
      const c = new ReplayCache(10, 1000);
      expect(c.check('A', 'a', Date.now(), Date.now())).toBe('fresh');
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(3_000);
      expect(c.size()).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
