import { describe, expect, it } from 'vitest';
import { isStsRequest } from './handle-sts.ts';
import { errorXml, parseForm, resultXml } from './query.ts';
import { readWebToken } from './web-token.ts';

describe('STS routing', () => {
  it('is STS with no X-Amz-Target and a form body or an sts credential scope; KMS otherwise', () => {
    const form = ['Content-Type', 'application/x-www-form-urlencoded; charset=utf-8'];
    const stsAuth = ['Authorization', 'AWS4-HMAC-SHA256 Credential=A/20261202/us-east-1/sts/aws4_request, …'];
    const kmsAuth = ['Authorization', 'AWS4-HMAC-SHA256 Credential=A/20261202/us-east-1/kms/aws4_request, …'];
    expect(isStsRequest(form)).toBe(true);
    expect(isStsRequest(stsAuth)).toBe(true);
    expect(isStsRequest([...form, 'X-Amz-Target', 'TrentService.Encrypt'])).toBe(false);
    expect(isStsRequest(['Content-Type', 'application/x-amz-json-1.1', ...kmsAuth])).toBe(false);
    expect(isStsRequest([])).toBe(false);
  });
});

describe('the query protocol', () => {
  it('parses a form and refuses a parameter given twice', () => {
    expect(parseForm(Buffer.from('Action=A&RoleArn=arn%3Ax&X=a+b'))).toEqual(
      new Map([
        ['Action', 'A'],
        ['RoleArn', 'arn:x'],
        ['X', 'a b'],
      ]),
    );
    expect(() => parseForm(Buffer.from('RoleArn=a&RoleArn=b'))).toThrow(/RoleArn is given more than once/);
  });

  it('escapes every value it writes into XML', () => {
    const xml = resultXml('Op', { A: '<b>&"\'', C: { D: 'x' } }, 'r<1>');
    expect(xml).toContain('<A>&#60;b&#62;&#38;&#34;&#39;</A><C><D>x</D></C>');
    expect(xml).toContain('<RequestId>r&#60;1&#62;</RequestId>');
    expect(errorXml('Code', 'm<', 500, 'r')).toContain(
      '<Type>Receiver</Type><Code>Code</Code><Message>m&#60;</Message>',
    );
    expect(errorXml('Code', 'm', 400, 'r')).toContain('<Type>Sender</Type>');
  });
});

describe('readWebToken (unverified claims)', () => {
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  it('reads exp, aud (string or list) and iss', () => {
    expect(readWebToken(`${part({})}.${part({ exp: 10, aud: 'a', iss: 'i' })}.c2ln`)).toEqual({
      expiresAt: 10_000,
      audiences: ['a'],
      issuer: 'i',
    });
    expect(readWebToken(`${part({})}.${part({ exp: 10, aud: ['a', 1, 'b'] })}.c2ln`)).toEqual({
      expiresAt: 10_000,
      audiences: ['a', 'b'],
    });
  });
  it('says why a token is not usable', () => {
    expect(readWebToken('abc')).toMatch(/not a JWT/);
    expect(readWebToken(`${part({})}.${part({ aud: 'a' })}.c2ln`)).toMatch(/no expiry/);
    expect(readWebToken(`${part({})}.bm90IGpzb24.c2ln`)).toMatch(/not JSON/);
  });
});
